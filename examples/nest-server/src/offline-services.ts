import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateLocalKeyFile } from '@byok/core';
import type { DevIssuer } from '@byok/testing/oidc';
import type { LlmStandIn } from '@byok/testing/llm';

/** A made-up Gemini key the offline stand-in accepts (any key starting with `AIza`). */
export const OFFLINE_SAMPLE_KEY = 'AIzaSyOffline-Demo-Key-0123456789abcd';

/** The local stand-ins offline mode runs on instead of Google and Gemini. */
export interface OfflineServices {
  readonly issuer: DevIssuer;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly gemini: LlmStandIn;
  /** The generated master-key file for `localKms({ keyFile })`, kept across restarts. */
  readonly keyFile: string;
  readonly sampleKey: string;
  close(): Promise<void>;
}

/**
 * Starts the development OpenID issuer (users `alice` and `bob`, byok registered as a
 * client with its callback under `appOrigin/api`) and the Gemini API stand-in, and
 * generates the master-key file under `dataDir` once. @byok/testing is ESM only, so this
 * CommonJS app loads it with `import()` — and only in offline mode.
 */
export async function startOfflineServices(options: { appOrigin: string; dataDir: string; issuerPort: number }): Promise<OfflineServices> {
  const [{ DEFAULT_DEV_USERS, startDevIssuer }, { startGeminiStandIn }] = await Promise.all([import('@byok/testing/oidc'), import('@byok/testing/llm')]);
  const keyFile = join(options.dataDir, 'master-keys');
  await generateLocalKeyFile(keyFile);
  const clientId = 'byok-nest-example';
  const clientSecret = randomBytes(24).toString('base64url');
  const issuer = await startDevIssuer({
    users: [...DEFAULT_DEV_USERS],
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [`${options.appOrigin}/api/auth/callback/dev`] }],
    port: options.issuerPort,
  });
  let gemini: LlmStandIn;
  try {
    gemini = await startGeminiStandIn({ acceptKey: (key) => key.startsWith('AIza') && key.length >= 20 });
  } catch (error) {
    await issuer.close();
    throw error;
  }
  return {
    issuer,
    clientId,
    clientSecret,
    gemini,
    keyFile,
    sampleKey: OFFLINE_SAMPLE_KEY,
    async close() {
      await Promise.allSettled([issuer.close(), gemini.close()]);
    },
  };
}
