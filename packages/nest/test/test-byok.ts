import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { createByok, localKms, oidc, type AuthService, type Byok } from '@byok/core';
import { defineOperation } from '@byok/core/http';

export const APP_ORIGIN = 'http://app.test';

/** What the streaming test operation saw of its signal. */
export interface StreamSeen {
  abortedAtStart: boolean;
  /** Resolves when the handler's signal aborts. */
  aborted: Promise<void>;
  /** Resolves when the stream's producer ran its cleanup (after the client left or it ended). */
  released: Promise<void>;
  ticks: number;
}

/**
 * A byok with sign-in configured (the issuer is never contacted: sessions come from
 * `byok.auth.createSession`) and one extra raw event-stream operation, `POST
 * /test/ticks`, that ticks every 20 ms until its signal aborts.
 */
export async function testByok(): Promise<{ byok: Byok<AuthService>; seen: Map<string, StreamSeen> }> {
  const byok = await createByok({
    database: { memory: true },
    kms: localKms({ keys: `1:${randomBytes(32).toString('base64')}` }),
    auth: {
      issuers: [oidc({ id: 'dev', issuer: 'http://127.0.0.1:9/', clientId: 'byok', clientSecret: 'byok-secret', development: true })],
      baseUrl: 'http://127.0.0.1/api',
      allowedOrigins: [APP_ORIGIN],
      cookieSecret: randomBytes(32).toString('hex'),
    },
  });
  const seen = new Map<string, StreamSeen>();
  byok.http.add(
    defineOperation({
      kind: 'raw',
      name: 'test.ticks',
      summary: 'ticks until the client leaves',
      auth: 'none',
      produces: 'event-stream',
      input: z.object({ id: z.string(), limit: z.number().int().max(10_000).default(10_000) }),
      http: { method: 'POST', path: '/test/ticks' },
      handler: async ({ input, request }) => {
        const signal = request.signal!;
        let markAborted!: () => void;
        let markReleased!: () => void;
        const entry: StreamSeen = {
          abortedAtStart: signal.aborted,
          aborted: new Promise<void>((resolve) => (markAborted = resolve)),
          released: new Promise<void>((resolve) => (markReleased = resolve)),
          ticks: 0,
        };
        seen.set(input.id, entry);
        signal.addEventListener('abort', () => markAborted(), { once: true });
        return {
          status: 200,
          stream: (async function* () {
            try {
              for (let i = 0; i < input.limit && !signal.aborted; i++) {
                entry.ticks = i + 1;
                yield { event: 'tick', id: String(i), data: { i } };
                await new Promise((r) => setTimeout(r, 20));
              }
            } finally {
              markReleased();
            }
          })(),
        };
      },
    }),
  );
  return { byok, seen };
}

/** Resolves with the promise, or fails after `ms` with `message`. */
export function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms))]);
}

/** Reads an event stream until `until` appears in what was received; fails if the stream ends first. */
export async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, until: string): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes(until)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before ${JSON.stringify(until)}: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** A JSON response body, to assert on. */
export async function bodyOf(res: Response): Promise<Record<string, any>> {
  return (await res.json()) as Record<string, any>;
}
