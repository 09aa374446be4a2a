import type { ChatEvent, ChatRunHub } from './chat-events';

/** Options for {@link MemoryChatRunHub}. */
export interface MemoryChatRunHubOptions {
  /** Most chunks kept per run; older ones are dropped (a resume from before them answers from the store). Default 20 000. */
  maxEventsPerRun?: number;
  /** How long an ended run's chunks stay for late resumes. Default 60 s. */
  ttlMs?: number;
}

interface RunLog {
  events: ChatEvent[];
  /** Position of `events[0]`. */
  first: number;
  ended: boolean;
  wake: Set<() => void>;
  expiry: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The in-process {@link ChatRunHub}, the default: each run's chunks in a bounded log that
 * expires a while after the run ends, live tails for subscribers on this instance, and
 * stop requests to the run's owner here. Several instances need a shared hub (Redis) to
 * resume or stop each other's runs; without one, byok answers from the store.
 *
 * @example
 * const hub = new MemoryChatRunHub({ ttlMs: 30_000 });
 * await hub.publish({ runId: 'r1', position: 1, chunk: { type: 'start' } });
 * for await (const event of (await hub.subscribe('r1', 0))!) console.log(event.position);
 */
export class MemoryChatRunHub implements ChatRunHub {
  readonly #runs = new Map<string, RunLog>();
  readonly #stopListeners = new Map<string, Set<() => void>>();
  readonly #max: number;
  readonly #ttlMs: number;
  #closed = false;

  constructor(options: MemoryChatRunHubOptions = {}) {
    this.#max = options.maxEventsPerRun ?? 20_000;
    this.#ttlMs = options.ttlMs ?? 60_000;
  }

  async publish(event: ChatEvent): Promise<void> {
    if (this.#closed) return;
    let log = this.#runs.get(event.runId);
    if (!log) {
      log = { events: [], first: event.position, ended: false, wake: new Set(), expiry: undefined };
      this.#runs.set(event.runId, log);
    }
    if (log.ended) return;
    log.events.push(event);
    if (log.events.length > this.#max) {
      log.events.shift();
      log.first += 1;
    }
    wakeAll(log);
  }

  async end(runId: string): Promise<void> {
    const log = this.#runs.get(runId);
    if (!log || log.ended) return;
    log.ended = true;
    wakeAll(log);
    log.expiry = setTimeout(() => {
      if (this.#runs.get(runId) === log) this.#runs.delete(runId);
    }, this.#ttlMs);
    log.expiry.unref?.();
  }

  async subscribe(runId: string, afterPosition: number, signal?: AbortSignal): Promise<AsyncIterable<ChatEvent> | undefined> {
    const log = this.#runs.get(runId);
    // Chunks already dropped from the log cannot be given exactly: let the caller use the store.
    if (!log || afterPosition + 1 < log.first) return undefined;
    return follow(log, afterPosition, signal);
  }

  async requestStop(runId: string): Promise<boolean> {
    const listeners = this.#stopListeners.get(runId);
    if (!listeners || listeners.size === 0) return false;
    for (const listener of [...listeners]) listener();
    return true;
  }

  onStop(runId: string, listener: () => void): () => void {
    let listeners = this.#stopListeners.get(runId);
    if (!listeners) this.#stopListeners.set(runId, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#stopListeners.get(runId) === listeners) this.#stopListeners.delete(runId);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const log of this.#runs.values()) {
      if (log.expiry) clearTimeout(log.expiry);
      log.ended = true;
      wakeAll(log);
    }
    this.#runs.clear();
    this.#stopListeners.clear();
  }
}

function wakeAll(log: RunLog): void {
  const wake = [...log.wake];
  log.wake.clear();
  for (const fn of wake) fn();
}

async function* follow(log: RunLog, afterPosition: number, signal: AbortSignal | undefined): AsyncGenerator<ChatEvent> {
  let next = afterPosition + 1;
  for (;;) {
    if (signal?.aborted) return;
    // A subscriber that fell behind the bound has lost chunks: end rather than skip them.
    if (next < log.first) return;
    const index = next - log.first;
    if (index < log.events.length) {
      const event = log.events[index]!;
      next = event.position + 1;
      yield event;
      continue;
    }
    if (log.ended) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        log.wake.delete(done);
        resolve();
      };
      log.wake.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
