// What the scenarios share: the world around byok (PostgreSQL database, dev issuer,
// provider stand-ins), users signed in over HTTP, a chat client that reads the UI
// message stream, scenario servers in child processes, a TCP proxy to cut, percentiles.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CookieJar, createTestDatabase, startTcpProxy, type TcpProxy, driveLogin, startDevIssuer, startGeminiStandIn, type DevIssuer, type LlmStandIn, type TestDatabase } from '@byok/testing';
import { dumpDatabase, findSecrets, type Haystack } from '../secret-scan';
import type { Secrets, World } from '../world';
import type { ServerConfig } from './server-app';

export { APP_ORIGIN } from './server-app';
export { startTcpProxy, type TcpProxy };

/** The result every scenario returns (run.ts writes it into docs/reliability.md). */
export interface ScenarioResult {
  name: string;
  ok: boolean;
  figures: Record<string, number | string>;
  failures: string[];
}

/**
 * Every secret this scenario handed to byok or got from it (provider keys, refresh tokens,
 * OAuth codes, master keys, the cookie secret, signing keys it made), for {@link scanScenario}.
 * A scenario runs in its own test process; {@link startStage} starts the list afresh.
 */
export const handedOut: Secrets = { providerKeys: [], refreshTokens: [], oauthCodes: [], signingKeys: [], masterSecrets: [] };
/** Every server process this scenario spawned, for the scan of their logs. */
const spawned: ServerProcess[] = [];

/** Remembers a master key list (`2:<base64>,1:<base64>`) as secrets. */
export function handOutMasterKeys(masterKeys: string): void {
  for (const entry of masterKeys.split(',')) {
    const secret = entry.slice(entry.indexOf(':') + 1);
    if (!handedOut.masterSecrets.includes(secret)) handedOut.masterSecrets.push(secret);
  }
}

/**
 * The leak scan after a scenario: no secret it handed out may appear in the stage's
 * database (every table) or in what its server processes wrote (byok's log on stderr),
 * nor in `extra` (a CLI's output, say). Token signing keys made inside a server process
 * are checked by the fuzz and isolation scans, where byok runs in the test's own process.
 */
export async function scanScenario(stage: Stage, extra: Haystack[] = []): Promise<{ leaks: string[]; summary: string }> {
  const dump = await dumpDatabase({ db: stage.db } as World);
  const logs = spawned.map((server, i) => ({ where: `the log of server process ${i + 1}`, text: server.output() }));
  const leaks = findSecrets(handedOut, [...dump.haystacks, ...logs, ...extra]);
  const counts = Object.entries(handedOut).map(([k, v]) => `${k} ${(v as string[]).length}`).join(', ');
  const bytes = [...logs, ...extra].reduce((n, h) => n + h.text.length, 0);
  return { leaks, summary: `secrets ${counts}; ${dump.tables} tables (${dump.rows} rows), ${logs.length} server logs and ${extra.length} other outputs (${bytes} chars)` };
}

/** Every value Redis holds under `prefix` (strings, lists, hashes, sets, sorted sets, streams) as one haystack. */
export async function dumpRedis(prefix: string, port = 6379): Promise<Haystack & { keys: number }> {
  const { newRedis } = await import('./redis-client');
  const client = newRedis({ host: '127.0.0.1', port });
  const call = (...args: string[]) => (client as unknown as { call(...a: string[]): Promise<unknown> }).call(...args);
  try {
    const keys = await client.keys(`${prefix}*`);
    const parts: string[] = [];
    for (const key of keys) {
      const type = String(await call('TYPE', key));
      const value =
        type === 'string' ? await call('GET', key)
        : type === 'list' ? await call('LRANGE', key, '0', '-1')
        : type === 'hash' ? await call('HGETALL', key)
        : type === 'set' ? await call('SMEMBERS', key)
        : type === 'zset' ? await call('ZRANGE', key, '0', '-1', 'WITHSCORES')
        : type === 'stream' ? await call('XRANGE', key, '-', '+')
        : null;
      parts.push(`${key}\t${JSON.stringify(value)}`);
    }
    return { where: `Redis (keys ${prefix}*)`, text: parts.join('\n'), keys: keys.length };
  } finally {
    client.disconnect();
  }
}

/** True for the full figures (`BYOK_RELIABILITY_FULL=1`), false for the quick CI variant. */
export const isFull = (): boolean => process.env.BYOK_RELIABILITY_FULL === '1';

export const CLIENT_ID = 'byok-rel';
export const CLIENT_SECRET = 'byok-rel-secret';

export interface Stage {
  db: TestDatabase;
  issuer: DevIssuer;
  gemini: LlmStandIn;
  masterKeys: string;
  cookieSecret: string;
  /** Ports reserved for servers (their callback URLs are registered at the issuer). */
  ports: number[];
  config(port: number, extra?: Partial<ServerConfig>): ServerConfig;
  close(): Promise<void>;
}

/** A fresh PostgreSQL database, the dev issuer (with callbacks for `serverCount` reserved ports) and the Gemini stand-in. */
export async function startStage(options: { serverCount: number; chunks?: number; chunkDelayMs?: number }): Promise<Stage> {
  const ports: number[] = [];
  for (let i = 0; i < options.serverCount; i++) ports.push(await freePort());
  const db = await createTestDatabase('postgres');
  const issuer = await startDevIssuer({
    users: [],
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: ports.map((p) => `http://127.0.0.1:${p}/api/auth/callback/dev`) }],
  });
  const gemini = await startGeminiStandIn({ keys: [], acceptKey: (key) => key.startsWith('AIzaSyREL-'), chunks: options.chunks ?? 8, chunkDelayMs: options.chunkDelayMs ?? 20 });
  const masterKeys = `1:${randomBytes(32).toString('base64')}`;
  const cookieSecret = randomBytes(32).toString('hex');
  for (const list of Object.values(handedOut)) list.length = 0;
  spawned.length = 0;
  handOutMasterKeys(masterKeys);
  handedOut.masterSecrets.push(cookieSecret);
  const postgres = (db.config as { postgres: string }).postgres;
  return {
    db,
    issuer,
    gemini,
    masterKeys,
    cookieSecret,
    ports,
    config: (port, extra = {}) => ({ postgres, masterKeys, cookieSecret, issuer: issuer.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, geminiUrl: gemini.url, port, ...extra }),
    async close() {
      await Promise.allSettled([issuer.close(), gemini.close()]);
      await db.drop().catch(() => undefined);
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface User {
  login: string;
  userId: string;
  accessToken: string;
  refreshToken: string;
  cookie: string;
  headers: Record<string, string>;
}

/** Signs a user in through the dev issuer like a browser (login start → issuer pages → callback). */
export async function signIn(issuer: DevIssuer, base: string, login: string): Promise<User> {
  if (!issuer.users.some((u) => u.sub === login)) issuer.addUser({ sub: login, email: `${login}@reliability.test`, email_verified: true, name: `User ${login}` });
  const jar = new CookieJar();
  const start = await fetch(`${base}/auth/login/dev`, { redirect: 'manual' });
  jar.store(start.url, start.headers);
  const location = start.headers.get('location');
  if (start.status !== 302 || !location) throw new Error(`login start answered ${start.status}: ${await start.text()}`);
  const callback = await driveLogin(location, { login });
  const code = new URL(callback).searchParams.get('code');
  if (code) handedOut.oauthCodes.push(code);
  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header(callback) } });
  if (done.status !== 303) throw new Error(`callback answered ${done.status}: ${await done.text()}`);
  jar.store(callback, done.headers);
  const set = Object.fromEntries(done.headers.getSetCookie().map((c) => c.split(';')[0]!.split('=') as [string, string]));
  const accessToken = set.byok_at ?? set['__Host-byok_at'];
  const refreshToken = set.byok_rt ?? set['__Host-byok_rt'];
  if (!accessToken || !refreshToken) throw new Error('the callback set no session cookies');
  handedOut.refreshTokens.push(decodeURIComponent(refreshToken));
  const headers = { authorization: `Bearer ${accessToken}` };
  const me = await fetch(`${base}/me`, { headers });
  if (me.status !== 200) throw new Error(`/me answered ${me.status}`);
  const { id } = (await me.json()) as { id: string };
  return { login, userId: id, accessToken, refreshToken, cookie: jar.header(`${base}/me`), headers };
}

export function geminiKey(login: string): string {
  const key = `AIzaSyREL-${login}-${randomBytes(6).toString('hex')}`;
  handedOut.providerKeys.push(key);
  return key;
}

export async function api(base: string, user: User | Record<string, string>, method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...('headers' in user ? (user.headers as Record<string, string>) : user), ...extraHeaders };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    text = await res.text();
  } catch (error) {
    // No answer at all (the server is gone): status 0, so callers can tell it from an HTTP error.
    return { status: 0, body: { error: { code: 'no_answer', message: (error as Error).message } }, headers: new Headers() };
  }
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function putKey(base: string, user: User, provider: string, apiKey: string): Promise<void> {
  const r = await api(base, user, 'PUT', `/keys/${provider}`, { apiKey });
  if (r.status !== 200) throw new Error(`PUT /keys/${provider} answered ${r.status}: ${JSON.stringify(r.body)}`);
}

export async function newSession(base: string, user: User, provider = 'gemini', model = 'gemini-2.5-flash'): Promise<string> {
  const r = await api(base, user, 'POST', '/chat/sessions', { provider, model });
  if (r.status !== 201) throw new Error(`POST /chat/sessions answered ${r.status}: ${JSON.stringify(r.body)}`);
  return (r.body as { id: string }).id;
}

export interface StoredMessage {
  id: string;
  role: string;
  status: string;
  text: string;
  seq: number;
  clientMessageId: string | null;
  errorCode: string | null;
  parentId: string | null;
}

export async function listMessages(base: string, user: User, sessionId: string): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  let cursor: string | null = null;
  for (;;) {
    const r = await api(base, user, 'GET', `/chat/sessions/${sessionId}/messages?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (r.status !== 200) throw new Error(`GET messages answered ${r.status}: ${JSON.stringify(r.body)}`);
    const page = r.body as { items: StoredMessage[]; nextCursor?: string | null };
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

/** One SSE event of a UI message stream. */
export interface StreamEvent {
  id?: string;
  data: string;
  chunk?: { type: string; [k: string]: unknown };
}

/** What a client saw of one streamed turn. */
export interface StreamRead {
  status: number;
  /** The error body of a non-200 answer. */
  error?: { code: string; message: string; details?: Record<string, unknown> } | undefined;
  retryAfter?: string | null;
  events: StreamEvent[];
  /** The `data-byok-turn` chunk's data, once seen (the acknowledgement of the user message). */
  turn?: { sessionId: string; runId: string; assistantMessageId: string; assistantSeq: number; userMessage: { id: string; seq: number; clientMessageId: string | null; text: string } | null };
  text: string;
  done: boolean;
  /** The last `id:` seen (for Last-Event-ID). */
  lastEventId?: string;
  /** ms from the request to its first text delta, and to its end. */
  firstTokenMs?: number;
  totalMs: number;
  /** How the stream ended: `finish`, `abort`, `error` chunk, or a broken connection. */
  end: 'finish' | 'abort' | 'error' | 'broken' | 'cut' | 'none';
  errorText?: string;
  usage?: { status: string; errorCode: string | null };
}

export interface ReadOptions {
  /** Stop reading (drop the connection) once this holds. */
  cutWhen?: (read: StreamRead) => boolean;
  onEvent?: (read: StreamRead, event: StreamEvent) => void;
  timeoutMs?: number;
}

/** Sends a request that answers a UI message stream and reads it. */
export async function readStream(url: string, init: RequestInit, options: ReadOptions = {}): Promise<StreamRead> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 60_000);
  const read: StreamRead = { status: 0, events: [], text: '', done: false, totalMs: 0, end: 'none' };
  try {
    const res = await fetch(url, { ...init, signal: controller.signal });
    read.status = res.status;
    read.retryAfter = res.headers.get('retry-after');
    if (res.status !== 200) {
      const body = await res.text();
      try {
        read.error = (JSON.parse(body) as { error: StreamRead['error'] }).error;
      } catch {
        read.error = { code: 'not-json', message: body.slice(0, 200) };
      }
      read.end = 'none';
      return read;
    }
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut = false;
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: StreamEvent = { data: '' };
        for (const line of raw.split('\n')) {
          if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('data: ')) event.data += line.slice(6);
        }
        read.events.push(event);
        if (event.id) read.lastEventId = event.id;
        if (event.data === '[DONE]') read.done = true;
        else if (event.data) {
          try {
            event.chunk = JSON.parse(event.data) as StreamEvent['chunk'];
          } catch {
            /* not a chunk */
          }
          const c = event.chunk;
          if (c?.type === 'data-byok-turn') read.turn = c.data as StreamRead['turn'];
          else if (c?.type === 'text-delta') {
            read.firstTokenMs ??= performance.now() - started;
            read.text += c.delta as string;
          } else if (c?.type === 'finish') read.end = 'finish';
          else if (c?.type === 'abort') read.end = 'abort';
          else if (c?.type === 'error') {
            read.end = 'error';
            read.errorText = c.errorText as string;
          } else if (c?.type === 'data-byok-usage') read.usage = c.data as StreamRead['usage'];
        }
        options.onEvent?.(read, event);
        if (options.cutWhen?.(read)) {
          cut = true;
          break;
        }
      }
      if (cut) {
        read.end = 'cut';
        controller.abort();
        await reader.cancel().catch(() => undefined);
        break;
      }
    }
    if (!read.done && read.end !== 'cut') read.end = read.end === 'none' ? 'broken' : read.end;
  } catch {
    if (read.end !== 'cut') read.end = 'broken';
  } finally {
    clearTimeout(timer);
    read.totalMs = performance.now() - started;
  }
  return read;
}

export function sendChat(base: string, user: User, sessionId: string, body: Record<string, unknown>, options: ReadOptions = {}): Promise<StreamRead> {
  return readStream(`${base}/chat/sessions/${sessionId}/messages`, { method: 'POST', headers: { ...user.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) }, options);
}

export function resumeChat(base: string, user: User, sessionId: string, lastEventId?: string, options: ReadOptions = {}): Promise<StreamRead> {
  return readStream(`${base}/chat/sessions/${sessionId}/stream`, { headers: { ...user.headers, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } }, options);
}

/** Seq is gapless (1, 2, 3, …) over all the session's messages. */
export function gapless(messages: StoredMessage[]): boolean {
  const seqs = messages.map((m) => m.seq).sort((a, b) => a - b);
  return seqs.every((s, i) => s === seqs[0]! + i) && (seqs.length === 0 || seqs[0] === 1);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]! * 10) / 10;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until<T>(check: () => Promise<T | false | null | undefined> | T | false | null | undefined, timeoutMs: number, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const tsconfig = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));

export interface ServerProcess {
  proc: ChildProcess;
  base: string;
  port: number;
  output(): string;
  /** The server's own figures; `gc` collects garbage first (the server runs with --expose-gc), so heapUsed is the live heap. */
  stats(options?: { gc?: boolean }): Promise<{ rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; uptimeMs: number; collected: boolean; eventLoopDelayMs: { p50: number; p99: number; max: number; mean: number } }>;
  resetStats(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<NodeJS.Signals | number | null>;
}

/** Runs a scenario server in a child process (tsx, sources through the tsconfig paths). */
export async function spawnServer(config: ServerConfig): Promise<ServerProcess> {
  // BYOK_RELIABILITY_SERVER_NODE_ARGS: extra Node flags for the server (say, --cpu-prof to profile it under load).
  const nodeArgs = process.env.BYOK_RELIABILITY_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const proc = spawn(process.execPath, ['--expose-gc', ...nodeArgs, '--import', 'tsx', `${here}server-child.ts`], {
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig, BYOK_REL_SERVER: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)));
  await until(() => /listening \d+/.test(out) || proc.exitCode !== null, 60_000, 50);
  const match = /listening (\d+)/.exec(out);
  if (!match) throw new Error(`the server did not start: ${out.slice(-2_000)}`);
  const port = Number(match[1]);
  const root = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    proc,
    base: `${root}/api`,
    port,
    output: () => out,
    stats: async (options = {}) => (await (await fetch(`${root}/__rel/stats${options.gc ? '?gc=1' : ''}`)).json()) as Awaited<ReturnType<ServerProcess['stats']>>,
    resetStats: async () => void (await fetch(`${root}/__rel/stats/reset`, { method: 'POST' })),
    async kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  spawned.push(server);
  return server;
}

/** Step log to stderr with BYOK_RELIABILITY_VERBOSE=1 (what a scenario is doing, and since when). */
export function stepLog(name: string): (step: string) => void {
  const started = Date.now();
  return (step) => {
    if (process.env.BYOK_RELIABILITY_VERBOSE === '1') process.stderr.write(`[${name} +${((Date.now() - started) / 1000).toFixed(1)}s] ${step}\n`);
  };
}

/** Deletes every Redis key under a scenario's prefix. */
export async function clearRedisPrefix(prefix: string, port = 6379): Promise<void> {
  const { newRedis } = await import('./redis-client');
  const client = newRedis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length) await client.del(...keys);
  } catch {
    /* Redis away: nothing to clear */
  } finally {
    client.disconnect();
  }
}
