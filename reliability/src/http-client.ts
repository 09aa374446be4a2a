// The client side of the runs: one request with a deadline, read to the end (event
// streams included), and raw-socket requests for bytes `fetch` refuses to send.
import { connect } from 'node:net';

export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer | undefined;
  /** When set, these bytes go over a raw socket instead (request line and headers included). */
  raw?: Buffer | undefined;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  ms: number;
  /** Set when the request got no complete answer: a dropped connection or the deadline. */
  failure?: 'timeout' | 'connection' | undefined;
  failureDetail?: string | undefined;
  /** Sent over a raw socket (bytes fetch would not send): Node's parser may refuse it before any adapter runs. */
  viaRaw?: boolean | undefined;
}

/** Sends one request and reads the whole answer within `timeoutMs`. */
export async function send(request: SentRequest, timeoutMs: number): Promise<Answer> {
  if (request.raw) return { ...(await sendRaw(request.url, request.raw, timeoutMs)), viaRaw: true };
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('deadline')), timeoutMs);
  try {
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
      redirect: 'manual',
      signal: controller.signal,
    });
    const text = await res.text();
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => (headers[name] = value));
    return { status: res.status, headers, text, ms: performance.now() - started };
  } catch (error) {
    // fetch refuses to send some bytes at all (a method it does not know, a header value
    // with a trailing space); those go over a raw socket, so the server still gets them.
    if (!controller.signal.aborted && refusedByClient(error)) {
      clearTimeout(timer);
      return { ...(await sendRaw(request.url, rawBytes(request), timeoutMs)), viaRaw: true };
    }
    const timedOut = controller.signal.aborted;
    return {
      status: 0,
      headers: {},
      text: '',
      ms: performance.now() - started,
      failure: timedOut ? 'timeout' : 'connection',
      failureDetail: describe(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

function refusedByClient(error: unknown): boolean {
  return error instanceof TypeError && /invalid header value|method is unsupported|not a valid HTTP method|invalid header name/i.test(error.message);
}

/** The request as HTTP/1.1 bytes. */
export function rawBytes(request: SentRequest): Buffer {
  const { host, pathname, search } = new URL(request.url);
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
  const lines = [`${request.method} ${pathname}${search} HTTP/1.1`, `host: ${host}`, ...Object.entries(request.headers).map(([k, v]) => `${k}: ${v}`), `content-length: ${body.length}`, 'connection: close'];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

/** Writes raw bytes to the server and reads until it closes the connection (or answers one response). */
function sendRaw(url: string, bytes: Buffer, timeoutMs: number): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (failure?: Answer['failure'], detail?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const parsed = parseRawResponse(text);
      if (!parsed && !failure) return resolve({ status: 0, headers: {}, text, ms: performance.now() - started, failure: 'connection', failureDetail: 'closed without an answer' });
      resolve({ ...(parsed ?? { status: 0, headers: {}, text }), ms: performance.now() - started, ...(failure && !parsed ? { failure, failureDetail: detail } : {}) });
    };
    const timer = setTimeout(() => finish('timeout', 'deadline'), timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const parsed = parseRawResponse(Buffer.concat(chunks).toString('latin1'));
      if (parsed?.complete) finish();
    });
    socket.on('end', () => finish());
    socket.on('error', (error) => finish('connection', error.message));
    // Half-closed after the request: a body shorter than its content-length ends there.
    socket.end(bytes);
  });
}

function parseRawResponse(text: string): (Omit<Answer, 'ms'> & { complete: boolean }) | null {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  if (!status) return null;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = text.slice(end + 4);
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  const complete = length !== undefined ? Buffer.byteLength(body, 'latin1') >= length : headers['transfer-encoding'] === 'chunked' ? body.endsWith('0\r\n\r\n') : status === 204 || status === 304;
  return { status, headers, text: body, complete };
}
