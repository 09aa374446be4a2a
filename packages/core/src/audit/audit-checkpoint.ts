import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ByokError } from '../errors';
import { canonicalJson } from './canonical-json';

/**
 * A statement that, at time `at`, row `seq` (id `id`) of `chain` had hash `hash`. Since
 * each hash commits to every earlier row, it pins the whole chain up to `seq`.
 */
export interface AuditCheckpoint {
  chain: string;
  seq: number;
  id: string;
  hash: string;
  /** When the checkpoint was taken (epoch ms). */
  at: number;
}

/**
 * A checkpoint signed with Ed25519. Ed25519 rather than an HMAC because verifying then
 * needs only the public key: an auditor, a CI job or `byok audit verify` on another host
 * can check checkpoints without being able to forge them, and the signing key never has
 * to leave the application that writes the trail.
 */
export interface SignedAuditCheckpoint extends AuditCheckpoint {
  v: 1;
  /** Identifies the public key: base64url of SHA-256 of its raw 32 bytes, first 16 characters. */
  kid: string;
  /** base64url Ed25519 signature over {@link auditCheckpointSigningInput}. */
  sig: string;
}

/** A private or public key: a KeyObject or PEM text. */
export type AuditCheckpointKey = KeyObject | string;

const DOMAIN = 'byok-audit-checkpoint-v1';

/**
 * The exact bytes a checkpoint's signature covers (canonical JSON with a domain tag), for
 * verifiers written in another language.
 *
 * @example
 * import { verify } from 'node:crypto';
 * const [cp] = await readAuditCheckpointFile('audit-checkpoints.jsonl');
 * if (cp) verify(null, auditCheckpointSigningInput(cp), process.env.BYOK_AUDIT_PUBLIC_KEY!, Buffer.from(cp.sig, 'base64url'));
 */
export function auditCheckpointSigningInput(checkpoint: AuditCheckpoint & { kid: string }): Buffer {
  return Buffer.from(
    canonicalJson({
      type: DOMAIN,
      chain: checkpoint.chain,
      seq: checkpoint.seq,
      id: checkpoint.id,
      hash: checkpoint.hash,
      at: checkpoint.at,
      kid: checkpoint.kid,
    }),
    'utf8',
  );
}

/**
 * A fresh Ed25519 key pair for signing checkpoints, as PEM (PKCS#8 / SPKI).
 *
 * @example
 * const { privateKey, publicKey } = generateAuditCheckpointKeys();
 * // keep privateKey with the application, hand publicKey to whoever verifies
 */
export function generateAuditCheckpointKeys(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Loads an Ed25519 private key (KeyObject or PEM); anything else is `config_invalid`. */
export function toCheckpointPrivateKey(key: AuditCheckpointKey): KeyObject {
  let object: KeyObject;
  try {
    object = typeof key === 'string' ? createPrivateKey(key) : key;
  } catch (cause) {
    throw new ByokError('config_invalid', 'The audit checkpoint signing key is not a valid private key', { cause });
  }
  if (object.type !== 'private' || object.asymmetricKeyType !== 'ed25519') {
    throw new ByokError('config_invalid', 'The audit checkpoint signing key must be an Ed25519 private key');
  }
  return object;
}

/** Loads an Ed25519 public key (KeyObject or PEM; a private key yields its public half). */
export function toCheckpointPublicKey(key: AuditCheckpointKey): KeyObject {
  let object: KeyObject;
  try {
    object = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  } catch (cause) {
    throw new ByokError('config_invalid', 'The audit checkpoint verification key is not a valid public key', { cause });
  }
  if (object.type !== 'public' || object.asymmetricKeyType !== 'ed25519') {
    throw new ByokError('config_invalid', 'The audit checkpoint verification key must be an Ed25519 public key');
  }
  return object;
}

/**
 * The key id of an Ed25519 public key (see {@link SignedAuditCheckpoint.kid}).
 *
 * @example
 * import { createPublicKey } from 'node:crypto';
 * auditCheckpointKeyId(createPublicKey(generateAuditCheckpointKeys().publicKey)) // → e.g. 'q3N0X2xP8dYk1bZa'
 */
export function auditCheckpointKeyId(publicKey: KeyObject): string {
  const cached = keyIds.get(publicKey);
  if (cached !== undefined) return cached;
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.from(String(jwk.x), 'base64url');
  const kid = createHash('sha256').update(raw).digest('base64url').slice(0, 16);
  keyIds.set(publicKey, kid);
  return kid;
}

const keyIds = new WeakMap<KeyObject, string>();

/**
 * Signs a checkpoint.
 *
 * @example
 * const { privateKey } = generateAuditCheckpointKeys();
 * const [row] = await byok.store.audit.readChain('system', 0, 1);
 * if (row) signAuditCheckpoint({ chain: row.chain, seq: row.seq, id: row.id, hash: row.hash, at: Date.now() }, privateKey);
 */
export function signAuditCheckpoint(checkpoint: AuditCheckpoint, privateKey: AuditCheckpointKey): SignedAuditCheckpoint {
  const key = toCheckpointPrivateKey(privateKey);
  const kid = auditCheckpointKeyId(createPublicKey(key));
  const base = { chain: checkpoint.chain, seq: checkpoint.seq, id: checkpoint.id, hash: checkpoint.hash, at: checkpoint.at };
  const sig = sign(null, auditCheckpointSigningInput({ ...base, kid }), key).toString('base64url');
  return { v: 1, ...base, kid, sig };
}

/**
 * True when the checkpoint is well-formed and signed by one of `publicKeys`.
 *
 * @example
 * for (const checkpoint of await readAuditCheckpointFile('audit-checkpoints.jsonl')) {
 *   if (!verifyAuditCheckpoint(checkpoint, [process.env.BYOK_AUDIT_PUBLIC_KEY!])) throw new Error('forged checkpoint');
 * }
 */
export function verifyAuditCheckpoint(checkpoint: SignedAuditCheckpoint, publicKeys: readonly AuditCheckpointKey[]): boolean {
  if (!isCheckpointShape(checkpoint)) return false;
  const input = auditCheckpointSigningInput(checkpoint);
  const signature = Buffer.from(checkpoint.sig, 'base64url');
  for (const candidate of publicKeys) {
    const key = toCheckpointPublicKey(candidate);
    if (auditCheckpointKeyId(key) !== checkpoint.kid) continue;
    if (verify(null, input, key, signature)) return true;
  }
  return false;
}

function isCheckpointShape(value: unknown): value is SignedAuditCheckpoint {
  if (value === null || typeof value !== 'object') return false;
  const c = value as Record<string, unknown>;
  return (
    c.v === 1 &&
    typeof c.chain === 'string' &&
    Number.isSafeInteger(c.seq) &&
    (c.seq as number) >= 1 &&
    typeof c.id === 'string' &&
    typeof c.hash === 'string' &&
    /^[0-9a-f]{64}$/.test(c.hash) &&
    Number.isSafeInteger(c.at) &&
    typeof c.kid === 'string' &&
    typeof c.sig === 'string'
  );
}

/**
 * One JSON line (canonical JSON, no newline) as the file sink writes it.
 *
 * @example
 * import { appendFile } from 'node:fs/promises';
 * const signed = signAuditCheckpoint({ chain: 'system', seq: 1, id: uuidv7(), hash: auditGenesisHash('system'), at: Date.now() }, generateAuditCheckpointKeys().privateKey);
 * await appendFile('audit-checkpoints.jsonl', serializeAuditCheckpoint(signed) + '\n');
 */
export function serializeAuditCheckpoint(checkpoint: SignedAuditCheckpoint): string {
  return canonicalJson({ ...checkpoint });
}

/**
 * Reads checkpoints from JSON-lines text: the file sink's lines (`{"v":1,"chain":…}`) and
 * log lines carrying an `auditCheckpoint` member (what the logger sink writes, e.g. a
 * pino log file). Other lines are skipped; signatures are NOT checked here.
 *
 * @example
 * import { readFile } from 'node:fs/promises';
 * const checkpoints = parseAuditCheckpoints(await readFile('audit-checkpoints.jsonl', 'utf8'));
 */
export function parseAuditCheckpoints(text: string): SignedAuditCheckpoint[] {
  const out: SignedAuditCheckpoint[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      continue; // e.g. a line cut short by a crash while appending
    }
    if (parsed === null || typeof parsed !== 'object') continue;
    const record = parsed as Record<string, unknown>;
    const candidate = 'auditCheckpoint' in record ? record.auditCheckpoint : record;
    if (candidate !== null && typeof candidate === 'object' && (candidate as Record<string, unknown>).v === 1) {
      out.push(candidate as SignedAuditCheckpoint);
    }
  }
  return out;
}

/**
 * Reads a checkpoint file written by `fileCheckpointSink` (or a log file written through
 * `loggerCheckpointSink`).
 *
 * @example
 * const report = await byok.audit.verify({ checkpoints: await readAuditCheckpointFile('/var/log/byok-checkpoints.jsonl') });
 */
export async function readAuditCheckpointFile(path: string): Promise<SignedAuditCheckpoint[]> {
  return parseAuditCheckpoints(await readFile(path, 'utf8'));
}
