// A signed-in user's REST calls (on any of the REST hosts), as the property test and the
// fuzzer's set-up make them: JSON in, JSON (or an event stream) out, always with a deadline.
import { send, type Answer } from './http-client';
import { APP_ORIGIN, type SignedInUser } from './world';

export const MODEL = 'gemini-2.5-flash';

export interface JsonAnswer extends Answer {
  json: any;
}

export class UserApi {
  constructor(
    readonly user: SignedInUser,
    readonly base: string,
    /** Authenticate with the cookie (and Origin) instead of the bearer token. */
    readonly viaCookie = false,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const auth: Record<string, string> = this.viaCookie ? { cookie: this.user.cookie, origin: APP_ORIGIN } : { authorization: `Bearer ${this.user.accessToken}` };
    return { ...auth, ...extra };
  }

  async call(method: string, path: string, body?: unknown, extra: Record<string, string> = {}, timeoutMs = 20_000): Promise<JsonAnswer> {
    await this.user.freshen();
    const headers = this.headers(body !== undefined ? { 'content-type': 'application/json', ...extra } : extra);
    const answer = await send({ method, url: `${this.base}${path}`, headers, body: body !== undefined ? JSON.stringify(body) : undefined }, timeoutMs);
    let json: unknown = undefined;
    if (answer.headers['content-type']?.includes('json') && answer.text) {
      try {
        json = JSON.parse(answer.text);
      } catch {
        json = undefined;
      }
    }
    return { ...answer, json };
  }

  /** Calls and insists on a status; the error names the call and the answer. */
  async ok(method: string, path: string, body?: unknown, expected = [200, 201, 204]): Promise<JsonAnswer> {
    const answer = await this.call(method, path, body);
    if (!expected.includes(answer.status)) throw new Error(`${this.user.login}: ${method} ${path} answered ${answer.status} ${answer.failure ?? ''} ${answer.text.slice(0, 300)}`);
    return answer;
  }

  createSession(title?: string) {
    return this.ok('POST', '/chat/sessions', { provider: 'gemini', model: MODEL, ...(title ? { title } : {}) });
  }

  /** Sends a user message; returns the stream's SSE ids and the ids of the messages it made. */
  async sendMessage(sessionId: string, text: string): Promise<StreamResult> {
    const answer = await this.ok('POST', `/chat/sessions/${encodeURIComponent(sessionId)}/messages`, { sessionId, text });
    return streamResult(answer);
  }
}

export interface StreamResult {
  answer: Answer;
  eventIds: string[];
  /** The ids of the reply (the run id of the SSE ids). */
  replyIds: string[];
}

export function streamResult(answer: Answer): StreamResult {
  const eventIds = [...answer.text.matchAll(/^id: ?(.+)$/gm)].map((m) => m[1]!.trim());
  const replyIds = [...new Set(eventIds.map((id) => id.split(':')[0]!))];
  return { answer, eventIds, replyIds };
}
