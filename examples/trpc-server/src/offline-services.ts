import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateLocalKeyFile } from '@byok/core';
import { DEFAULT_DEV_USERS, startDevIssuer, type DevIssuer } from '@byok/testing/oidc';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing/llm';

/** A made-up Gemini key the offline stand-in accepts (any key starting with `AIza`, 20 characters or more). */
export const OFFLINE_SAMPLE_KEY = 'AIzaSyOffline-tRPC-Demo-Key-0123456789';

/** Options of {@link startOfflineServices}. */
export interface OfflineServicesOptions {
  /** The example's origin, e.g. `http://127.0.0.1:3002`; the issuer redirects to `<origin>/api/auth/callback/dev`. */
  appOrigin: string;
  /** Where the generated master-key file lives (the example's gitignored `data/`). */
  dataDir: string;
  /** Port of the development issuer on 127.0.0.1; 0 = ephemeral. A fixed port keeps users stable across restarts. */
  issuerPort?: number;
}

/** The local stand-ins offline mode runs on. */
export interface OfflineServices {
  /** The development OpenID issuer (oidc-provider) and the client byok is registered as. */
  readonly issuer: DevIssuer;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The Gemini API stand-in byok's real Gemini provider talks to. */
  readonly gemini: LlmStandIn;
  /** The generated master-key file for `localKms({ keyFile })`. */
  readonly keyFile: string;
  readonly sampleKey: string;
  close(): Promise<void>;
}

/**
 * Starts what offline mode needs instead of Google: a development OpenID issuer on
 * loopback (users `alice` and `bob`) with byok registered as a client, a Gemini API
 * stand-in that accepts keys starting with `AIza`, and a master-key file generated once
 * under `dataDir` and kept across restarts, so stored keys stay readable.
 *
 * @example
 * const offline = await startOfflineServices({ appOrigin: 'http://127.0.0.1:3002', dataDir: 'data' });
 * await offline.close();
 */
export async function startOfflineServices(options: OfflineServicesOptions): Promise<OfflineServices> {
  const keyFile = join(options.dataDir, 'master-keys');
  await generateLocalKeyFile(keyFile);
  const clientId = 'byok-trpc-example';
  const clientSecret = randomBytes(24).toString('base64url');
  const issuer = await startDevIssuer({
    users: [...DEFAULT_DEV_USERS],
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [`${options.appOrigin}/api/auth/callback/dev`] }],
    port: options.issuerPort ?? 0,
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
