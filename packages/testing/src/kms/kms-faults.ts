/**
 * A failure a KMS stand-in plays instead of answering:
 * - `throttle`: the service's throttling error (AWS `ThrottlingException`, Cloud KMS `RESOURCE_EXHAUSTED` / 429);
 * - `timeout`: no answer for `delayMs` (default 30 s), so the client's deadline fires first;
 * - `5xx`: an internal error (AWS `KMSInternalException` 500, Cloud KMS `UNAVAILABLE` / 503).
 */
export interface KmsStandInFault {
  kind: 'throttle' | 'timeout' | '5xx';
  /** How many matching calls fail (default 1). */
  times?: number;
  /** Only calls of this operation (`Encrypt`, `Decrypt`, `GenerateDataKey`, `GetCryptoKey`). Default: any. */
  operation?: string;
  /** For `timeout`: how long the answer is held. */
  delayMs?: number;
}

/** Call counters of a KMS stand-in, per operation and in total. */
export interface KmsStandInCalls {
  total: number;
  byOperation: Record<string, number>;
}

/** The queue of pending faults, consumed in order by matching calls. */
export class KmsFaultQueue {
  private readonly pending: Array<Required<Omit<KmsStandInFault, 'operation' | 'delayMs'>> & { operation?: string; delayMs?: number }> = [];

  constructor(initial: readonly KmsStandInFault[] = []) {
    for (const fault of initial) this.add(fault);
  }

  add(fault: KmsStandInFault): void {
    const times = fault.times ?? 1;
    if (times <= 0) return;
    this.pending.push({ ...fault, times });
  }

  clear(): void {
    this.pending.length = 0;
  }

  /** The fault for this call, if one is pending (and counts it down). */
  take(operation: string): KmsStandInFault | undefined {
    const index = this.pending.findIndex((f) => f.operation === undefined || f.operation === operation);
    if (index < 0) return undefined;
    const fault = this.pending[index]!;
    fault.times--;
    if (fault.times <= 0) this.pending.splice(index, 1);
    return fault;
  }
}
