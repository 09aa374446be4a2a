import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateLocalKeyFile } from '@byok/core';
import type { DevIssuer } from '@byok/testing/oidc';
import type { LlmStandIn, ReplyScript } from '@byok/testing/llm';
import { generateCheckpointKeyFiles, offlineCheckpointFiles } from './audit-checkpoints.js';

/** Made-up keys the offline stand-ins accept, one per provider (never real keys). */
export const OFFLINE_SAMPLE_KEYS = {
  gemini: 'AIzaSyOffline-Demo-Key-0123456789abcd',
  openai: 'sk-offline-demo-key-0123456789wxyz',
  anthropic: 'sk-ant-offline-demo-key-0123456789efgh',
} as const;

/** The Gemini sample key (the one the page offers first). */
export const OFFLINE_SAMPLE_KEY = OFFLINE_SAMPLE_KEYS.gemini;

/** What each offline stand-in accepts: the provider's key prefix and at least 20 characters. */
export const OFFLINE_KEY_RULES: Record<keyof typeof OFFLINE_SAMPLE_KEYS, (key: string) => boolean> = {
  gemini: (key) => key.startsWith('AIza') && key.length >= 20,
  openai: (key) => key.startsWith('sk-') && !key.startsWith('sk-ant-') && key.length >= 20,
  anthropic: (key) => key.startsWith('sk-ant-') && key.length >= 20,
};

/**
 * What the offline stand-ins answer: a chat turn gets their default (`echo: <your text>`),
 * and the title request byok sends after a chat's first exchange gets the first words of
 * the user's message, so offline chats get readable names.
 *
 * @example
 * offlineReplyScript({ route: 'generate', system: 'You name chat conversations.', messages: [{ role: 'user', text: '<conversation>\nUser: plan a trip to Lisbon\n…' }] } as never);
 * // → 'Plan a trip to Lisbon'
 */
export const offlineReplyScript: ReplyScript = (turn) => {
  if (turn.route !== 'generate' || !turn.system.includes('You name chat conversations')) return undefined;
  const user = /User: (.*)/.exec(turn.messages.at(-1)?.text ?? '')?.[1] ?? '';
  const words = user.replace(/[^\p{L}\p{N}' -]+/gu, ' ').trim().split(/\s+/).filter(Boolean).slice(0, 6).join(' ');
  return words ? words[0]!.toUpperCase() + words.slice(1) : 'New chat';
};

/** Options of {@link startOfflineServices}. */
export interface OfflineServicesOptions {
  /** The example's browser-facing origin, e.g. `http://127.0.0.1:3000` (byok under `/api`). */
  appOrigin: string;
  /** Where the generated master-key file and checkpoint key pair live (the example's gitignored `data/`). */
  dataDir: string;
  /** Port of the development issuer on 127.0.0.1; 0 = ephemeral. A fixed port keeps users stable across restarts. */
  issuerPort?: number;
  /** The OAuth client id byok is registered under at the development issuer. */
  clientId?: string;
}

/** The local stand-ins offline mode runs on. */
export interface OfflineServices {
  /** The development OpenID issuer (oidc-provider) and the client byok is registered as. */
  readonly issuer: DevIssuer;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The Gemini, OpenAI and Anthropic API stand-ins byok's real providers talk to. */
  readonly gemini: LlmStandIn;
  readonly openai: LlmStandIn;
  readonly anthropic: LlmStandIn;
  /** The generated master-key file for `localKms({ keyFile })`. */
  readonly keyFile: string;
  /** The generated Ed25519 key pair that signs audit checkpoints (private PEM file, public PEM file). */
  readonly checkpointKeyFile: string;
  readonly checkpointPublicKeyFile: string;
  /** The private key's PEM, for `audit.checkpoints.signingKey`. */
  readonly checkpointKey: string;
  /** Where the signed checkpoints go: a file beside, not inside, the database. */
  readonly checkpointFile: string;
  /** The Gemini sample key. */
  readonly sampleKey: string;
  readonly sampleKeys: typeof OFFLINE_SAMPLE_KEYS;
  close(): Promise<void>;
}

/**
 * Starts what offline mode needs instead of Google and the model APIs: a development
 * OpenID issuer on loopback (users `alice` and `bob`) with byok registered as a client,
 * the Gemini, OpenAI and Anthropic API stand-ins from `@byok/testing` (each accepts keys
 * with its provider's prefix), and — generated once under `dataDir`, kept across restarts
 * — a master-key file (so stored keys stay readable) and an audit checkpoint key pair (so
 * earlier checkpoints still verify). `@byok/testing` is loaded here only, with `import()`,
 * so the Google mode never loads it and a CommonJS host can call this.
 *
 * @example
 * const offline = await startOfflineServices({ appOrigin: 'http://127.0.0.1:3000', dataDir: 'data' });
 * await offline.close();
 */
export async function startOfflineServices(options: OfflineServicesOptions): Promise<OfflineServices> {
  const [{ DEFAULT_DEV_USERS, startDevIssuer }, llm] = await Promise.all([import('@byok/testing/oidc'), import('@byok/testing/llm')]);
  const keyFile = join(options.dataDir, 'master-keys');
  await generateLocalKeyFile(keyFile);
  const checkpoints = offlineCheckpointFiles(options.dataDir);
  const checkpointKey = await generateCheckpointKeyFiles(checkpoints);
  const clientId = options.clientId ?? 'byok-example';
  const clientSecret = randomBytes(24).toString('base64url');
  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const issuer = await startDevIssuer({
      users: [...DEFAULT_DEV_USERS],
      clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [`${options.appOrigin}/api/auth/callback/dev`] }],
      port: options.issuerPort ?? 0,
    });
    started.push(issuer);
    const gemini = await llm.startGeminiStandIn({ reply: offlineReplyScript, acceptKey: OFFLINE_KEY_RULES.gemini, chunks: 8, chunkDelayMs: 40 });
    started.push(gemini);
    const openai = await llm.startOpenAiStandIn({ reply: offlineReplyScript, acceptKey: OFFLINE_KEY_RULES.openai, chunks: 8, chunkDelayMs: 40 });
    started.push(openai);
    const anthropic = await llm.startAnthropicStandIn({ reply: offlineReplyScript, acceptKey: OFFLINE_KEY_RULES.anthropic, chunks: 8, chunkDelayMs: 40 });
    started.push(anthropic);
    return {
      issuer,
      clientId,
      clientSecret,
      gemini,
      openai,
      anthropic,
      keyFile,
      checkpointKeyFile: checkpoints.keyFile,
      checkpointPublicKeyFile: checkpoints.publicKeyFile,
      checkpointKey,
      checkpointFile: checkpoints.checkpointFile,
      sampleKey: OFFLINE_SAMPLE_KEY,
      sampleKeys: OFFLINE_SAMPLE_KEYS,
      async close() {
        await Promise.allSettled(started.map((service) => service.close()));
      },
    };
  } catch (error) {
    await Promise.allSettled(started.map((service) => service.close()));
    throw error;
  }
}
