/**
 * The abort plumbing of one provider call: the caller's signal, a timeout, and the
 * provider's own "stop now" (a consumer leaving a stream early), merged into one signal
 * handed to fetch. Afterwards it tells which of them fired, so the error can say
 * `aborted` (the caller) or a timeout (`provider_network_error`), never confuse the two.
 */
export interface CallDeadline {
  /** Pass this to fetch / the vendor client. */
  readonly signal: AbortSignal;
  /** True when the caller's signal fired. */
  callerAborted(): boolean;
  /** True when the timeout fired (and the caller's signal had not). */
  timedOut(): boolean;
  /** The timeout in force, in ms (0 = none). */
  readonly timeoutMs: number;
  /** Restarts the timer (idle timeouts: call on every chunk received). */
  touch(): void;
  /** Stops the timer until the next `touch()` (while a stream consumer holds an event). */
  pause(): void;
  /** Aborts the call (closes the connection) without blaming caller or timeout. */
  abort(): void;
  /** Clears the timer and listeners; the signal stays as it is. */
  dispose(): void;
}

export interface CallDeadlineOptions {
  signal?: AbortSignal;
  /** 0 or undefined: no timeout. */
  timeoutMs?: number;
}

/**
 * Starts the deadline of one call.
 *
 * @example
 * const deadline = startCallDeadline({ signal, timeoutMs: 10_000 });
 * try { await fetch('https://api.example/v1/models', { signal: deadline.signal }); }
 * catch (e) { throw providerError(failureFromThrown('example', e, deadline), [apiKey]); } // timeout, abort or network
 * finally { deadline.dispose(); }
 */
export function startCallDeadline(options: CallDeadlineOptions = {}): CallDeadline {
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs !== undefined && options.timeoutMs > 0 ? options.timeoutMs : 0;
  const caller = options.signal;
  let fired: 'caller' | 'timeout' | 'self' | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  const fire = (why: 'caller' | 'timeout' | 'self'): void => {
    if (fired !== undefined) return;
    fired = why;
    if (timer !== undefined) clearTimeout(timer);
    controller.abort(why === 'caller' ? caller?.reason : new Error(why === 'timeout' ? 'timeout' : 'closed'));
  };
  const onCallerAbort = (): void => fire('caller');
  const arm = (): void => {
    if (timeoutMs === 0 || fired !== undefined || disposed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => fire('timeout'), timeoutMs);
  };

  if (caller?.aborted) fire('caller');
  else caller?.addEventListener('abort', onCallerAbort, { once: true });
  arm();

  return {
    signal: controller.signal,
    timeoutMs,
    callerAborted: () => fired === 'caller',
    timedOut: () => fired === 'timeout',
    touch: arm,
    pause: () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
    abort: () => fire('self'),
    dispose: () => {
      disposed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      caller?.removeEventListener('abort', onCallerAbort);
    },
  };
}
