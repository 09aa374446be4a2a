import { CookieJar } from '../oidc/cookie-jar';
import { driveLogin } from '../oidc/drive-login';

/** What one request of a scenario sends. */
export interface ScenarioRequest {
  method?: string;
  /** A JSON body (serialised here) or raw text. */
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  /** Send the jar's cookies (default true when the browser signed in with cookies). */
  cookies?: boolean;
  signal?: AbortSignal;
}

/**
 * A client of one host's byok routes over real HTTP: keeps cookies like a browser,
 * sends the app's `Origin`, and a bearer token when it has one.
 */
export class ScenarioBrowser {
  readonly jar = new CookieJar();
  /** Sent as `Authorization: Bearer …` when set (an API client). */
  bearer: string | undefined;

  constructor(
    readonly baseUrl: string,
    readonly appOrigin: string,
  ) {}

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  async fetch(path: string, request: ScenarioRequest = {}): Promise<Response> {
    const method = request.method ?? 'GET';
    const url = this.url(path);
    const headers: Record<string, string> = {};
    if (request.cookies !== false) {
      const cookie = this.jar.header(url);
      if (cookie) headers.cookie = cookie;
    }
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    // The app is on its own origin: a browser sends Origin on every CORS request from it.
    headers.origin = this.appOrigin;
    let body: string | undefined = request.body;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, request.headers);
    // An empty header value in `request.headers` means "do not send this header".
    for (const name of Object.keys(headers)) if (headers[name] === '') delete headers[name];
    const response = await fetch(url, {
      method,
      headers,
      redirect: 'manual',
      ...(body !== undefined ? { body } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
    this.jar.store(url, response.headers);
    return response;
  }

  /** A JSON answer: its status, headers and parsed body. */
  async json(path: string, request: ScenarioRequest = {}): Promise<{ status: number; headers: Headers; body: any }> {
    const response = await this.fetch(path, request);
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }

  cookie(name: string): string | undefined {
    return this.jar.get(this.url('/'), name);
  }

  /**
   * Signs in through the whole OpenID flow over HTTP: byok's login start on this host,
   * the development issuer's pages, byok's callback on this host. Leaves the session's
   * cookies in the jar.
   */
  async signIn(issuerId: string, login: string): Promise<void> {
    const start = await this.fetch(`/auth/login/${issuerId}`);
    const location = start.headers.get('location');
    if (start.status !== 302 || !location) throw new Error(`login start answered ${start.status}: ${await start.text()}`);
    const callback = await driveLogin(location, { login });
    if (!callback.startsWith(this.baseUrl)) throw new Error(`the issuer sent the browser to ${callback}, not to this host`);
    const done = await this.fetch(callback.slice(this.baseUrl.length));
    if (done.status !== 303) throw new Error(`the callback answered ${done.status}: ${await done.text()}`);
  }
}

/** One Server-Sent Event as a client sees it. */
export interface ReceivedSseEvent {
  id?: string;
  data: string;
}

/** The complete events of an SSE body (an incomplete last one is left out, as an EventSource does). */
export function sseEvents(text: string): ReceivedSseEvent[] {
  const out: ReceivedSseEvent[] = [];
  for (const block of text.split('\n\n').slice(0, -1)) {
    const event: ReceivedSseEvent = { data: '' };
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) event.id = line.slice(4);
      else if (line.startsWith('data: ')) event.data = line.slice(6);
    }
    out.push(event);
  }
  return out;
}

/** The UI message stream chunks of an SSE body (`[DONE]` left out). */
export function uiChunks(text: string): Array<{ type: string; [key: string]: unknown }> {
  return sseEvents(text)
    .filter((e) => e.data !== '[DONE]')
    .map((e) => JSON.parse(e.data) as { type: string });
}

/** The text the stream's `text-delta` chunks carry. */
export function streamedText(text: string): string {
  return uiChunks(text)
    .map((c) => (c.type === 'text-delta' ? String(c.delta) : ''))
    .join('');
}

/**
 * Reads a streamed response until `stopWhen` holds for what arrived, then drops the
 * connection. Returns the complete events received, as a reconnecting client keeps them.
 */
export async function readUntil(response: Response, stopWhen: (text: string) => boolean, controller: AbortController): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (stopWhen(text)) break;
  }
  controller.abort();
  await reader.cancel().catch(() => undefined);
  return text.slice(0, text.lastIndexOf('\n\n') + 2);
}
