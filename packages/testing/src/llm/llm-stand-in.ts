import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Which endpoint of a model API a request hit. */
export type StandInRoute = 'models' | 'generate' | 'stream';

/**
 * A failure the stand-in plays instead of (or in the middle of) a normal answer, in the
 * API's own wire shape (status, content type, headers and body as the real API sends them;
 * on a stream route an error answer keeps the content type the API uses there).
 * - `rate-limit`: 429 for a limit that passes, with the API's retry hint (`limit`: which
 *   limit was hit, `requests` or `tokens`; each API renders the matching headers/details).
 * - `quota-exhausted`: 429 for a spent quota where waiting does not help (`scope`:
 *   `billing` = no credit left, `daily` = a per-day quota, `zero-limit` = a quota of 0 on
 *   this tier). The API's body says so; any retry hint the real API adds anyway is there too.
 * - `server-error`: 500/502/503/504 with the API's error body.
 * - `permission-denied`: 403 about the key's account, not the key (`reason`: `api-disabled`
 *   = the API is not enabled for the project, `billing` = billing is off, `permission` = the
 *   caller lacks a permission).
 * - `region-unsupported`: the API refuses the caller's location or region.
 * - `bad-request`: 400 (not a key error).
 * - `reset`: the socket is destroyed (before answering, or after `afterChunks` stream chunks).
 * - `hang`: nothing more is sent (before answering, or after `afterChunks` chunks); the
 *   connection stays open until the client gives up.
 * - `truncate`: a stream ends cleanly after `afterChunks` chunks (default 1), before the
 *   API's end-of-reply marker (finish reason, `[DONE]`, `message_stop`).
 * - `safety`: the prompt (`stage: 'prompt'`) or the reply (`'response'`) is blocked.
 * - `stream-error`: an error inside a 200 stream after `afterChunks` chunks (`framing`:
 *   `event` = as an SSE event, the default; `bare` = as a bare JSON body with no SSE
 *   framing, as some APIs send it mid-stream).
 */
export type StandInFault =
  | { kind: 'rate-limit'; retryAfterSeconds?: number; limit?: 'requests' | 'tokens'; /** @deprecated use `quota-exhausted` */ quota?: boolean }
  | { kind: 'quota-exhausted'; scope?: 'billing' | 'daily' | 'zero-limit' }
  | { kind: 'server-error'; status?: 500 | 502 | 503 | 504 }
  | { kind: 'permission-denied'; reason?: 'api-disabled' | 'billing' | 'permission' }
  | { kind: 'region-unsupported' }
  | { kind: 'bad-request'; message?: string }
  | { kind: 'reset'; afterChunks?: number }
  | { kind: 'hang'; afterChunks?: number }
  | { kind: 'truncate'; afterChunks?: number }
  | { kind: 'safety'; stage?: 'prompt' | 'response' }
  | { kind: 'stream-error'; afterChunks?: number; status?: 429 | 500 | 503; framing?: 'event' | 'bare' };

/** Facts about an API's catalogue that each stand-in knows from its real API. */
export interface StandInCatalogue {
  /** Listed by the API but unable to chat (embedding, image, audio models). */
  nonChatModels?: string[];
  /** The context window the API's model list reports per model (absent: the API does not say). */
  contextWindows?: Record<string, number>;
  /**
   * Models that sign their reasoning and refuse a follow-up turn that lost a signature
   * (Gemini 3's `thoughtSignature`, a thinking model's signed blocks).
   */
  signedModels?: string[];
}

export interface FaultTarget {
  /** Only requests to this endpoint. Default: any. */
  route?: StandInRoute;
  /** Only requests with this key. */
  key?: string;
  /** Only requests for this model. */
  model?: string;
  /** How many requests get the fault. Default: every matching request until cleared. */
  times?: number;
}

/** The conversation a generation request carried, read back into neutral terms. */
export interface StandInTurn {
  key: string;
  model: string;
  route: 'generate' | 'stream';
  system: string;
  messages: Array<{ role: string; text: string }>;
  tools: string[];
  temperature?: number;
  maxOutputTokens?: number;
  /** The raw JSON body. */
  body: unknown;
}

/** What the scripted model answers. */
export interface ScriptedReply {
  text?: string;
  toolCalls?: Array<{ name: string; args: Record<string, unknown>; id?: string }>;
  /** Override the token counts the stand-in reports. */
  inputTokens?: number;
  outputTokens?: number;
}

/** Per-key / per-model script: return a reply, a plain string, or undefined for the default echo. */
export type ReplyScript = (turn: StandInTurn) => ScriptedReply | string | undefined;

/** One request the stand-in received. */
export interface StandInRequest {
  id: number;
  method: string;
  path: string;
  route: StandInRoute | 'unknown';
  /** The API key presented (this is a test server: kept so tests can assert what was sent). */
  key: string | undefined;
  model?: string;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  status?: number;
  /** Stream chunks written (SSE `data:` events, not counting a final `[DONE]`). */
  chunksSent: number;
  /** The client closed the connection before the answer was complete. */
  closedByClient: boolean;
  /** The stand-in cut the connection on purpose (`reset` fault). */
  resetByServer: boolean;
  /** The answer was written completely. */
  completed: boolean;
}

export interface LlmStandInOptions {
  /** Keys the API accepts; every other key gets the API's own invalid-key error. */
  keys?: string[];
  /** Accepts further keys by rule (e.g. an offline demo taking any `demo-` key). */
  acceptKey?: (key: string) => boolean;
  /** Model ids the API lists and serves. */
  models?: string[];
  reply?: ReplyScript;
  /** How many stream chunks the reply text is cut into. Default 3. */
  chunks?: number;
  /** Delay before each stream chunk after the first, in ms. Default 0. */
  chunkDelayMs?: number;
  /** Delay before any answer, in ms. Default 0. */
  latencyMs?: number;
  /** Put the presented key into error messages (as some APIs do), to test scrubbing. */
  echoKeyInErrors?: boolean;
  /** Which of `models` sign their reasoning (see {@link StandInCatalogue}). Default: the stand-in's own. */
  signedModels?: string[];
}

/** The control surface shared by the Gemini and OpenAI stand-ins. */
export interface LlmStandIn {
  /** The base URL to give the provider (`gemini({ baseUrl })` / `openaiCompatible({ baseUrl })`). */
  readonly url: string;
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  readonly keys: string[];
  /** The chat models the API lists and serves. */
  readonly models: string[];
  /** Models the API lists that cannot chat; a provider's `listModels` leaves them out. */
  readonly nonChatModels: string[];
  /** The context window the API reports per model; empty when the API does not report one. */
  readonly contextWindows: Readonly<Record<string, number>>;
  /** The chat models that refuse a follow-up turn whose reasoning signatures were lost. */
  readonly signedModels: string[];
  /** Every request received, oldest first. */
  readonly requests: StandInRequest[];
  injectFault(fault: StandInFault, target?: FaultTarget): void;
  clearFaults(): void;
  setReply(script: ReplyScript | undefined): void;
  configure(options: Pick<LlmStandInOptions, 'chunks' | 'chunkDelayMs' | 'latencyMs' | 'echoKeyInErrors'>): void;
  /** Resolves with the first request that satisfies `predicate`, polling until `timeoutMs`. */
  waitFor(predicate: (request: StandInRequest) => boolean, timeoutMs?: number): Promise<StandInRequest>;
  /** Forgets logged requests and faults, restores options given at start. */
  reset(): void;
  close(): Promise<void>;
}

interface FaultEntry {
  fault: StandInFault;
  target: FaultTarget;
  remaining: number;
}

/** What each API-specific stand-in implements on top of {@link StandInBase}. */
export interface StandInContext {
  req: IncomingMessage;
  res: ServerResponse;
  log: StandInRequest;
  url: URL;
  body: unknown;
}

/**
 * The engine of both stand-ins: a node:http server on 127.0.0.1, the request log,
 * fault injection, scripted replies and chunked, delayed SSE writing.
 */
export abstract class StandInBase implements LlmStandIn {
  url = '';
  port = 0;
  readonly requests: StandInRequest[] = [];
  readonly keys: string[];
  readonly models: string[];
  readonly nonChatModels: string[];
  readonly contextWindows: Readonly<Record<string, number>>;
  readonly signedModels: string[];
  protected options: Required<Omit<LlmStandInOptions, 'reply' | 'keys' | 'models' | 'acceptKey' | 'signedModels'>>;
  protected script: ReplyScript | undefined;
  private readonly initial: LlmStandInOptions;
  private faults: FaultEntry[] = [];
  private server: Server | undefined;
  private nextId = 1;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(options: LlmStandInOptions, defaultModels: string[], catalogue: StandInCatalogue = {}) {
    this.initial = options;
    this.keys = [...(options.keys ?? [])];
    this.models = [...(options.models ?? defaultModels)];
    this.nonChatModels = [...(catalogue.nonChatModels ?? [])].filter((m) => !this.models.includes(m));
    this.contextWindows = { ...(catalogue.contextWindows ?? {}) };
    this.signedModels = (options.signedModels ?? catalogue.signedModels ?? []).filter((m) => this.models.includes(m));
    this.script = options.reply;
    this.options = {
      chunks: options.chunks ?? 3,
      chunkDelayMs: options.chunkDelayMs ?? 0,
      latencyMs: options.latencyMs ?? 0,
      echoKeyInErrors: options.echoKeyInErrors ?? false,
    };
  }

  /** The URL path prefix the provider is pointed at (e.g. `/v1`), '' for none. */
  protected abstract readonly basePath: string;
  protected abstract handle(ctx: StandInContext): Promise<void>;

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      void this.dispatch(req, res);
    });
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}${this.basePath}`;
    return this;
  }

  injectFault(fault: StandInFault, target: FaultTarget = {}): void {
    this.faults.push({ fault, target, remaining: target.times ?? Number.POSITIVE_INFINITY });
  }

  clearFaults(): void {
    this.faults = [];
  }

  setReply(script: ReplyScript | undefined): void {
    this.script = script;
  }

  configure(options: Pick<LlmStandInOptions, 'chunks' | 'chunkDelayMs' | 'latencyMs' | 'echoKeyInErrors'>): void {
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (this.options as Record<string, unknown>)[k] = v;
  }

  async waitFor(predicate: (request: StandInRequest) => boolean, timeoutMs = 5_000): Promise<StandInRequest> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.requests.find(predicate);
      if (found) return found;
      if (Date.now() > until) throw new Error(`stand-in: no matching request within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  reset(): void {
    this.requests.length = 0;
    this.faults = [];
    this.script = this.initial.reply;
    this.options = {
      chunks: this.initial.chunks ?? 3,
      chunkDelayMs: this.initial.chunkDelayMs ?? 0,
      latencyMs: this.initial.latencyMs ?? 0,
      echoKeyInErrors: this.initial.echoKeyInErrors ?? false,
    };
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Takes the first fault that matches this request, if any. */
  protected takeFault(route: StandInRoute, key: string | undefined, model: string | undefined): StandInFault | undefined {
    const entry = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.target.route === undefined || f.target.route === route) &&
        (f.target.key === undefined || f.target.key === key) &&
        (f.target.model === undefined || f.target.model === model),
    );
    if (!entry) return undefined;
    entry.remaining -= 1;
    return entry.fault;
  }

  protected isAccepted(key: string | undefined): boolean {
    return key !== undefined && (this.keys.includes(key) || this.initial.acceptKey?.(key) === true);
  }

  /** The reply for a turn: the script's answer, or the default `echo: <last user text>`. */
  protected replyFor(turn: StandInTurn): Required<Pick<ScriptedReply, 'text' | 'toolCalls'>> & ScriptedReply {
    const scripted = this.script?.(turn);
    if (typeof scripted === 'string') return { text: scripted, toolCalls: [] };
    if (scripted) return { ...scripted, text: scripted.text ?? '', toolCalls: scripted.toolCalls ?? [] };
    const lastUser = [...turn.messages].reverse().find((m) => m.role === 'user');
    return { text: `echo: ${lastUser?.text ?? ''}`, toolCalls: [] };
  }

  /** Cuts `text` into `n` pieces of near-equal length (fewer when the text is shorter). */
  protected split(text: string): string[] {
    const n = Math.max(1, Math.min(this.options.chunks, text.length));
    if (text.length === 0) return [''];
    const out: string[] = [];
    const size = Math.ceil(text.length / n);
    for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
    return out;
  }

  protected delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  /**
   * Faults that are the same on every API: a reset connection and a hang replace the
   * answer (unless they are set to strike mid-stream); safety blocks and stream errors
   * are played by the API's own streaming code. Returns true when the answer is handled.
   */
  protected playTransportFault(ctx: StandInContext, fault: StandInFault): boolean {
    const midStream = ctx.log.route === 'stream' && 'afterChunks' in fault && fault.afterChunks !== undefined && fault.afterChunks > 0;
    switch (fault.kind) {
      case 'reset':
        if (midStream) return false;
        ctx.log.resetByServer = true;
        ctx.req.socket.destroy();
        return true;
      case 'hang':
        return !midStream;
      default:
        return false;
    }
  }

  protected sendJson(ctx: StandInContext, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (ctx.res.destroyed) return;
    ctx.log.status = status;
    const payload = JSON.stringify(body);
    ctx.res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    ctx.res.end(payload);
    ctx.log.completed = true;
  }

  /**
   * Writes SSE frames one by one with the configured delay, playing a mid-stream fault
   * (`reset`, `hang`, `truncate`, `stream-error`) when it is due. `errorFrame` renders the
   * API's error in the fault's framing. `trailer` (e.g. `data: [DONE]`) is written after
   * the last frame, and not when the stream is truncated.
   */
  protected async sendStream(
    ctx: StandInContext,
    frames: string[],
    fault: StandInFault | undefined,
    errorFrame: (status: number, framing: 'event' | 'bare') => string,
    trailer = '',
  ): Promise<void> {
    const { res, log } = ctx;
    log.status = 200;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    for (let i = 0; i <= frames.length; i += 1) {
      if (i > 0) await this.delay(this.options.chunkDelayMs);
      if (res.destroyed || log.closedByClient) return;
      if (fault?.kind === 'truncate' && (fault.afterChunks ?? 1) === i) {
        res.end();
        log.completed = true;
        return;
      }
      if (fault && (fault.kind === 'reset' || fault.kind === 'hang' || fault.kind === 'stream-error') && (fault.afterChunks ?? 0) === i) {
        if (fault.kind === 'reset') {
          log.resetByServer = true;
          res.socket?.destroy();
          return;
        }
        if (fault.kind === 'hang') return;
        if (fault.kind === 'stream-error') {
          res.write(errorFrame(fault.status ?? 500, fault.framing ?? 'event'));
          res.end();
          log.completed = true;
          return;
        }
      }
      if (i === frames.length) break;
      res.write(frames[i]);
      log.chunksSent += 1;
    }
    if (trailer) res.write(trailer);
    res.end();
    log.completed = true;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const log: StandInRequest = {
      id: this.nextId++,
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      route: 'unknown',
      key: undefined,
      body: undefined,
      headers: { ...req.headers },
      chunksSent: 0,
      closedByClient: false,
      resetByServer: false,
      completed: false,
    };
    this.requests.push(log);
    res.on('close', () => {
      if (!log.completed && !log.resetByServer) log.closedByClient = true;
    });
    try {
      const raw = await readBody(req);
      let body: unknown;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      log.body = body;
      await this.delay(this.options.latencyMs);
      if (res.destroyed) return;
      await this.handle({ req, res, log, url, body });
    } catch (error) {
      if (!res.headersSent && !res.destroyed) {
        this.sendJson({ req, res, log, url, body: undefined }, 500, { error: { message: String(error) } });
      } else {
        res.destroy();
      }
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A deterministic token count: whitespace-separated words. */
export function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** Truncates `text` to its first `max` words (for `maxOutputTokens`). */
export function firstWords(text: string, max: number): string {
  const words = text.split(/(\s+)/);
  let count = 0;
  let out = '';
  for (const piece of words) {
    if (piece.trim() !== '') {
      if (count === max) break;
      count += 1;
    }
    out += piece;
  }
  return out.trimEnd();
}
