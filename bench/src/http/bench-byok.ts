import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createByok, localKms, oidc, type AuthService, type Byok } from '@byok/core';
import { gemini } from '@byok/gemini';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing';

const MASTER = `1:${Buffer.alloc(32, 5).toString('base64')}`;
export const GEMINI_KEY = 'AIzaSyBENCH-http-000000000000000000000001';
export const MODEL = 'gemini-2.5-flash';

/** The byok every side of the http group serves: one instance, one signed-in user with a stored key. */
export interface HttpBenchByok {
  byok: Byok<AuthService>;
  gemini: LlmStandIn;
  userId: string;
  /**
   * A fresh real byok access token of `userId` (from `auth.createSession`); access tokens
   * live 5 minutes by default, so each part of the group signs in anew.
   */
  signIn(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A byok on a SQLite file with the real Gemini provider pointed at its local stand-in (no
 * latency), auth configured (the issuer is never contacted: the session comes from
 * `auth.createSession`, as for a user the host signed in), and rate limits high enough
 * that a load test measures the HTTP layer rather than refusals.
 */
export async function startBenchByok(): Promise<HttpBenchByok> {
  const dir = mkdtempSync(join(tmpdir(), 'byok-http-bench-'));
  const standIn = await startGeminiStandIn({ keys: [GEMINI_KEY] });
  const byok = await createByok({
    database: { sqlite: join(dir, 'byok.db') },
    kms: localKms({ keys: MASTER }),
    providers: [gemini({ baseUrl: standIn.url })],
    auth: {
      issuers: [oidc({ id: 'bench', issuer: 'http://127.0.0.1:9', clientId: 'byok', clientSecret: 'bench-secret', development: true })],
      baseUrl: 'http://127.0.0.1:4999',
      allowedOrigins: ['http://app.example'],
      cookieSecret: 'h'.repeat(64),
    },
    rateLimits: { chat_send: { perUser: 1_000_000, perIp: 1_000_000 }, chatStream: { perUser: 1_000 } },
  });
  const { user } = await byok.users.findOrCreate({ issuer: 'https://bench.test', subject: 'http-bench', email: 'http@bench.test', emailVerified: true });
  await byok.keyVault.setKey(user.id, 'gemini', GEMINI_KEY);
  standIn.reset();
  return {
    byok,
    gemini: standIn,
    userId: user.id,
    signIn: async () => (await byok.auth.createSession(user.id)).accessToken,
    async close() {
      await byok.close();
      await standIn.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
