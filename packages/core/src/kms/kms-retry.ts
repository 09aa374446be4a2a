import { ByokError, isByokError } from '../errors';

/** Bounds for retrying a KMS call. */
export interface KmsRetryOptions {
  /** Total attempts, first one included (default 4). */
  attempts?: number;
  /** Delay before the first retry; doubles each time (default 50 ms). */
  baseDelayMs?: number;
  /** Cap on one delay (default 1000 ms). */
  maxDelayMs?: number;
  /** Time allowed for one attempt; the attempt's signal aborts after it (default 5000 ms). */
  attemptTimeoutMs?: number;
  /** Random source in [0, 1) for jitter (tests pass a fixed one). */
  random?: () => number;
  /** Sleep (tests may pass a fast one). */
  sleep?: (ms: number) => Promise<void>;
}

/** How a driver classifies a failed attempt. */
export type KmsFailure =
  | { retry: true; reason: string }
  | { retry: false; error: ByokError };

/** Resolved retry settings. */
export interface ResolvedKmsRetry {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  attemptTimeoutMs: number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Fills in retry defaults and checks the bounds (`config_invalid` on nonsense). */
export function resolveKmsRetry(options: KmsRetryOptions = {}): ResolvedKmsRetry {
  const resolved: ResolvedKmsRetry = {
    attempts: options.attempts ?? 4,
    baseDelayMs: options.baseDelayMs ?? 50,
    maxDelayMs: options.maxDelayMs ?? 1000,
    attemptTimeoutMs: options.attemptTimeoutMs ?? 5000,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? defaultSleep,
  };
  if (!Number.isInteger(resolved.attempts) || resolved.attempts < 1 || resolved.attempts > 20) {
    throw new ByokError('config_invalid', 'KMS retry: attempts must be an integer from 1 to 20');
  }
  for (const name of ['baseDelayMs', 'maxDelayMs', 'attemptTimeoutMs'] as const) {
    if (!Number.isFinite(resolved[name]) || resolved[name] < 0) {
      throw new ByokError('config_invalid', `KMS retry: ${name} must be a non-negative number`);
    }
  }
  return resolved;
}

/**
 * Runs one KMS operation with bounded retries: exponential backoff with full jitter
 * between attempts, a per-attempt timeout signalled through `AbortSignal`, and a typed
 * failure at the end. `classify` decides, per error, whether to retry (throttling,
 * timeouts, 5xx, connection errors) or to fail at once with a typed error. After the
 * last attempt the error is `kms_unavailable`. Nothing of the failed attempts is
 * returned.
 *
 * @example
 * const response = await callKmsWithRetry(
 *   'vault-kms', 'Decrypt', resolveKmsRetry({ attempts: 3 }),
 *   (signal) => fetch('https://kms.example/v1/decrypt', { method: 'POST', body: '{}', signal }),
 *   (error, timedOut) =>
 *     timedOut || (error instanceof TypeError) // a timeout or a network failure: try again
 *       ? { retry: true, reason: timedOut ? 'timeout' : 'network' }
 *       : { retry: false, error: new ByokError('kms_unavailable', 'The KMS refused the call', { cause: error }) },
 * );
 */
export async function callKmsWithRetry<T>(
  driverId: string,
  operation: string,
  retry: ResolvedKmsRetry,
  attempt: (signal: AbortSignal) => Promise<T>,
  classify: (error: unknown, timedOut: boolean) => KmsFailure,
): Promise<T> {
  let lastReason = 'unknown';
  for (let n = 1; ; n++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`KMS ${operation} attempt timed out`)), retry.attemptTimeoutMs);
    try {
      return await attempt(controller.signal);
    } catch (error) {
      if (isByokError(error) && error.code !== 'kms_unavailable') throw error;
      const failure = classify(error, controller.signal.aborted);
      if (!failure.retry) throw failure.error;
      lastReason = failure.reason;
    } finally {
      clearTimeout(timer);
    }
    if (n >= retry.attempts) {
      throw new ByokError('kms_unavailable', `KMS ${driverId} ${operation} failed after ${n} attempts (${lastReason})`, {
        // The KMS is throttling or away: a later call may pass (HTTP says so with Retry-After).
        details: { driver: driverId, operation, attempts: n, reason: lastReason, retryAfterMs: 1_000 },
      });
    }
    const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (n - 1));
    await retry.sleep(Math.floor(retry.random() * ceiling));
  }
}
