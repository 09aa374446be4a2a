import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateLocalKeyFile } from '@byok/core';
import { DEFAULT_DEV_USERS, startDevIssuer, type DevIssuer } from '@byok/testing/oidc';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing/llm';
import { generateCheckpointKeyFiles, offlineCheckpointFiles } from './audit-checkpoints';

/** A made-up Gemini key the offline stand-in accepts (any key starting with `AIza` is accepted). */
export const OFFLINE_SAMPLE_KEY = 'AIzaSyOffline-Demo-Key-0123456789abcd';

/** Options of {@link startOfflineServices}. */
export interface OfflineServicesOptions {
  /** The example's browser-facing origin, e.g. `http://127.0.0.1:3000` (byok under `/api`). */
  appOrigin: string;
  /** Where the generated master-key file and checkpoint key pair live (the example's gitignored `data/`). */
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
  /** The generated Ed25519 key pair that signs audit checkpoints (private PEM file, public PEM file). */
  readonly checkpointKeyFile: string;
  readonly checkpointPublicKeyFile: string;
  /** The private key's PEM, for `audit.checkpoints.signingKey`. */
  readonly checkpointKey: string;
  /** Where the signed checkpoints go: a file beside, not inside, the database. */
  readonly checkpointFile: string;
  readonly sampleKey: string;
  close(): Promise<void>;
}

/**
 * Starts what offline mode needs instead of Google: a development OpenID issuer on
 * loopback (its users: `alice`, `bob`) with byok registered as a client, a Gemini API
 * stand-in that accepts keys starting with `AIza`, and — generated once under `dataDir`,
 * kept across restarts — a master-key file (so stored keys stay readable) and an audit
 * checkpoint key pair (so earlier checkpoints still verify).
 *
 * @example
 * const offline = await startOfflineServices({ appOrigin: 'http://127.0.0.1:3000', dataDir: 'data' });
 * oidc({ id: 'dev', issuer: offline.issuer.issuer, clientId: offline.clientId, clientSecret: offline.clientSecret, development: true });
 * await offline.close();
 */
export async function startOfflineServices(options: OfflineServicesOptions): Promise<OfflineServices> {
  const keyFile = join(options.dataDir, 'master-keys');
  await generateLocalKeyFile(keyFile);
  const checkpoints = offlineCheckpointFiles(options.dataDir);
  const checkpointKey = await generateCheckpointKeyFiles(checkpoints);
  const clientId = 'byok-example';
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
    checkpointKeyFile: checkpoints.keyFile,
    checkpointPublicKeyFile: checkpoints.publicKeyFile,
    checkpointKey,
    checkpointFile: checkpoints.checkpointFile,
    sampleKey: OFFLINE_SAMPLE_KEY,
    async close() {
      await Promise.allSettled([issuer.close(), gemini.close()]);
    },
  };
}
