import { ByokError } from '../errors';
import { silentLogger, type Logger } from '../util/logger';
import type { ChatEvent, ChatRunHub, UiMessageChunk } from './chat-events';
import { MemoryChatRunHub } from './chat-run-hub-memory';

/** A connection of its own, for a blocking `XREAD` (one per live tail) or the stop channel subscriptions. */
export interface RedisChatRunConnection {
  call(command: string, args: Array<string | number>): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/**
 * The slice of an ioredis client the Redis run hub uses (typed here so core needs no Redis
 * dependency): `eval` for the atomic appends, `call` for `XRANGE`/`XREAD`/`EXISTS`,
 * `publish` for stop requests, `duplicate` for the connections that block or subscribe.
 */
export interface RedisChatRunClient {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  call(command: string, args: Array<string | number>): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  duplicate(): RedisChatRunConnection;
}

/** How long the run's owner waits for a write to the shared log before going on without it. */
const SHARED_WRITE_WAIT_MS = 500;

/** True when a client can carry the Redis run hub (ioredis can). */
export function isRedisChatRunClient(client: unknown): client is RedisChatRunClient {
  const c = client as Partial<RedisChatRunClient> | undefined;
  return typeof c?.eval === 'function' && typeof c.call === 'function' && typeof c.publish === 'function' && typeof c.duplicate === 'function';
}

/** Options for {@link RedisChatRunHub}. */
export interface RedisChatRunHubOptions {
  client: RedisChatRunClient;
  /** Prepended to every key and channel (default `byok:chat:`). */
  prefix?: string;
  /** How long a run's log stays after it ended, for late reconnects (default 5 minutes). */
  ttlMs?: number;
  /**
   * How long a live run's log stays after its last chunk (default 15 minutes). An owner that
   * died without ending its run leaves a log that expires then, and a tail reading it ends.
   */
  liveTtlMs?: number;
  /** The most chunks kept per run (`XADD … MAXLEN`); a reconnect needing trimmed ones is answered from the store (default 100,000). */
  maxLen?: number;
  /** How long one `XREAD BLOCK` waits before the tail checks that the log still exists (default 5 s). */
  blockMs?: number;
  logger?: Logger;
}

// A chunk at position p is the stream entry `p-0`; the end marker follows the last chunk as
// `p-1`. Entry ids are then positions, so "after position n" is the id range after `n-0`.
const PUBLISH = `
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], ARGV[1] .. '-0', 'c', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

// Ends the log wherever it is called (the owner, or recovery on another instance): the
// marker goes right after the last entry; a log that is absent stays absent.
const END = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 then return 0 end
if last[1][2][1] ~= 'end' then
  local position = string.match(last[1][1], '^(%d+)-')
  redis.call('XADD', KEYS[1], position .. '-1', 'end', '1')
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/** How long this instance keeps an ended run of its own in memory; later readers read Redis. */
const LOCAL_TTL_MS = 10_000;

type StreamEntry = [id: string, fields: string[]];

/**
 * A {@link ChatRunHub} on Redis, so any instance resumes or stops any run: each run's chunks
 * go to a Redis Stream (`XADD` with `MAXLEN`, the position as the entry id); a reconnect
 * replays what it missed and follows the live tail with `XREAD BLOCK` on a connection of its
 * own; the log expires `ttlMs` after the run ended. Readers on the instance that produces a
 * run (the sending client, a reconnect that lands there) read it from memory instead. Stop requests travel over pub/sub on a
 * channel per run, so `requestStop` knows whether the owner heard it.
 *
 * @example
 * import Redis from 'ioredis';
 * const hub = new RedisChatRunHub({ client: new Redis('redis://127.0.0.1:6379') });
 */
export class RedisChatRunHub implements ChatRunHub {
  readonly #client: RedisChatRunClient;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #liveTtlMs: number;
  readonly #maxLen: number;
  readonly #blockMs: number;
  readonly #logger: Logger;
  readonly #stopListeners = new Map<string, Set<() => void>>();
  /** The runs this instance produces, so their readers here (the sender first) need no Redis connection. */
  readonly #local: MemoryChatRunHub;
  readonly #readers = new Set<RedisChatRunConnection>();
  #subscriber: RedisChatRunConnection | undefined;
  #closed = false;

  constructor(options: RedisChatRunHubOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'byok:chat:';
    this.#ttlMs = positive('ttlMs', options.ttlMs ?? 5 * 60_000);
    this.#liveTtlMs = positive('liveTtlMs', options.liveTtlMs ?? 15 * 60_000);
    this.#maxLen = positive('maxLen', options.maxLen ?? 100_000);
    this.#blockMs = positive('blockMs', options.blockMs ?? 5_000);
    this.#logger = options.logger ?? silentLogger;
    this.#local = new MemoryChatRunHub({ maxEventsPerRun: this.#maxLen, ttlMs: Math.min(this.#ttlMs, LOCAL_TTL_MS) });
  }

  async publish(event: ChatEvent): Promise<void> {
    if (!Number.isSafeInteger(event.position) || event.position < 1) {
      throw new ByokError('internal', `A run position must be a positive integer, not ${event.position}`);
    }
    await this.#local.publish(event);
    await this.#shared(this.#client.eval(PUBLISH, 1, this.#logKey(event.runId), event.position, JSON.stringify(event.chunk), this.#maxLen, this.#liveTtlMs));
  }

  async end(runId: string): Promise<void> {
    await this.#local.end(runId);
    await this.#shared(this.#client.eval(END, 1, this.#logKey(runId), this.#ttlMs));
  }

  /**
   * Waits for a write to the shared log, but not for long: while Redis is away ioredis queues
   * the commands (in order) and sends them when it is back, and this instance's own readers
   * are served from the local log, so the reply goes on streaming to its end instead of
   * stalling on Redis. Readers on other instances fall back to the store meanwhile.
   */
  async #shared(write: Promise<unknown>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const slow = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHARED_WRITE_WAIT_MS);
      timer.unref?.();
    });
    const done = write.then(
      () => undefined,
      (err: unknown) => this.#logger.warn({ err }, 'byok chat: a write to the Redis run log failed'),
    );
    try {
      await Promise.race([done, slow]);
    } finally {
      clearTimeout(timer);
    }
  }

  async subscribe(runId: string, afterPosition: number, signal?: AbortSignal): Promise<AsyncIterable<ChatEvent> | undefined> {
    const local = await this.#local.subscribe(runId, afterPosition, signal);
    if (local) return local;
    const key = this.#logKey(runId);
    const first = (await this.#client.call('XRANGE', [key, '-', '+', 'COUNT', 1])) as StreamEntry[];
    const head = first[0];
    if (!head) return undefined;
    const { position, end } = parseEntryId(head[0]);
    // The oldest chunk still kept; anything the client lacks below it was trimmed away.
    const oldest = end ? position + 1 : position;
    if (oldest > afterPosition + 1) return undefined;
    return this.#tail(runId, key, afterPosition, signal);
  }

  async requestStop(runId: string): Promise<boolean> {
    const local = this.#stopListeners.get(runId);
    if (local?.size) {
      for (const listener of [...local]) listener();
      return true;
    }
    const heard = await this.#client.publish(this.#stopChannel(runId), runId);
    return typeof heard === 'number' && heard > 0;
  }

  onStop(runId: string, listener: () => void): () => void {
    let listeners = this.#stopListeners.get(runId);
    if (!listeners) {
      listeners = new Set();
      this.#stopListeners.set(runId, listeners);
      this.#subscriberConnection()
        .subscribe(this.#stopChannel(runId))
        .catch((err: unknown) => this.#logger.warn({ err }, 'byok chat: could not listen for stop requests over Redis'));
    }
    listeners.add(listener);
    const own = listeners;
    return () => {
      own.delete(listener);
      if (own.size > 0 || this.#stopListeners.get(runId) !== own) return;
      this.#stopListeners.delete(runId);
      this.#subscriber?.unsubscribe(this.#stopChannel(runId)).catch(() => {
        // the connection is gone: so is the subscription
      });
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const reader of this.#readers) reader.disconnect();
    this.#readers.clear();
    this.#stopListeners.clear();
    await this.#local.close();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    await subscriber?.quit().catch(() => subscriber.disconnect());
  }

  async *#tail(runId: string, key: string, afterPosition: number, signal: AbortSignal | undefined): AsyncGenerator<ChatEvent> {
    if (signal?.aborted || this.#closed) return;
    // XREAD BLOCK holds its connection, so each tail reads on one of its own.
    const reader = this.#client.duplicate();
    // While Redis is away ioredis reconnects and emits 'error': the read in flight fails and
    // the reader falls back; without a listener every retry is an "Unhandled error event".
    reader.on('error', (err) => this.#logger.warn({ err }, 'byok chat: a Redis run-hub reader lost its connection'));
    this.#readers.add(reader);
    const onAbort = () => reader.disconnect();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let lastId = `${afterPosition}-0`;
      let expected = afterPosition + 1;
      while (!signal?.aborted && !this.#closed) {
        let reply: Array<[string, StreamEntry[]]> | null;
        try {
          reply = (await reader.call('XREAD', ['COUNT', 256, 'BLOCK', this.#blockMs, 'STREAMS', key, lastId])) as typeof reply;
        } catch (error) {
          if (signal?.aborted || this.#closed) return;
          throw error;
        }
        if (reply === null) {
          // Nothing new for a while: a log that expired belongs to a run whose owner is gone.
          if (Number(await this.#client.call('EXISTS', [key])) === 0) return;
          continue;
        }
        for (const [id, fields] of reply[0]?.[1] ?? []) {
          lastId = id;
          const { position, end } = parseEntryId(id);
          if (end) return;
          if (position !== expected) {
            throw new ByokError('internal', 'The run log was trimmed before this reader caught up');
          }
          expected += 1;
          yield { runId, position, chunk: JSON.parse(fields[1] ?? 'null') as UiMessageChunk };
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#readers.delete(reader);
      reader.disconnect();
    }
  }

  #subscriberConnection(): RedisChatRunConnection {
    if (this.#subscriber) return this.#subscriber;
    const subscriber = this.#client.duplicate();
    subscriber.on('error', (err) => this.#logger.warn({ err }, 'byok chat: the Redis stop subscriber lost its connection'));
    const channelPrefix = `${this.#prefix}stop:`;
    subscriber.on('message', (channel, message) => {
      if (!channel.startsWith(channelPrefix) || channel.slice(channelPrefix.length) !== message) return;
      for (const listener of [...(this.#stopListeners.get(message) ?? [])]) listener();
    });
    this.#subscriber = subscriber;
    return subscriber;
  }

  #logKey(runId: string): string {
    return `${this.#prefix}run:${runId}`;
  }

  #stopChannel(runId: string): string {
    return `${this.#prefix}stop:${runId}`;
  }
}

function parseEntryId(id: string): { position: number; end: boolean } {
  const dash = id.indexOf('-');
  return { position: Number(id.slice(0, dash)), end: id.slice(dash + 1) === '1' };
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ByokError('config_invalid', `The Redis chat run hub's ${name} must be a positive integer`);
  return value;
}
