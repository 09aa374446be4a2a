import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  NodeCachingMaterialsManager,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { createByok, localKms, type SealContext } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { gemini } from '@byok/gemini';
import { startGeminiStandIn } from '@byok/testing/llm';
import { createTestDatabase } from '@byok/testing/store';
import { compare, median, ratioFigure, type Figure } from '../harness';

const SECRET = 'AIzaSyBENCH-0123456789abcdefghijklmnopq'; // 39 bytes, the size of a Gemini key
const MASTER = `1:${Buffer.alloc(32, 9).toString('base64')}`;
const CTX: SealContext = { purpose: 'provider_key', userId: '019a0000-0000-7000-8000-000000000001', provider: 'gemini', recordId: '019a0000-0000-7000-8000-000000000002' };
const OPS = 20_000;

/** Time per op (ms) of `n` sequential awaited calls. */
async function perOp(n: number, fn: () => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - start) / 1e6 / n;
}

function rawSeal(dek: KeyObject | Buffer, plaintext: Buffer, aad: Buffer): { nonce: Buffer; ct: Buffer; tag: Buffer } {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', dek, nonce);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return { nonce, ct, tag: c.getAuthTag() };
}

function rawOpen(dek: KeyObject, s: { nonce: Buffer; ct: Buffer; tag: Buffer }, aad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', dek, s.nonce);
  d.setAAD(aad);
  d.setAuthTag(s.tag);
  return Buffer.concat([d.update(s.ct), d.final()]);
}

export async function run(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const sealer = createSealer({ kms: localKms({ keys: MASTER }) });
  const plaintext = Buffer.from(SECRET);
  const sealed = await sealer.seal(SECRET, CTX);
  // Our payload AAD is the format byte plus the length-prefixed context (~100 bytes): give
  // the raw side an AAD of that size.
  const aad = randomBytes(100);
  const master = createSecretKey(Buffer.alloc(32, 9));
  const dek = createSecretKey(randomBytes(32));
  const rawSealed = rawSeal(dek, plaintext, aad);

  // vault.open_ratio: warm data-key cache vs raw GCM open with a pre-made KeyObject
  await sealer.open(sealed, CTX);
  const open = await compare(
    () => perOp(OPS, () => sealer.open(sealed, CTX)),
    () => perOp(OPS, () => rawOpen(dek, rawSealed, aad)),
    { rounds: 7 },
  );
  figures.push(ratioFigure('vault.open_ratio', open, '≤ 2'));

  // vault.seal_ratio: seal with localKms vs raw GCM seal + raw GCM wrap of a fresh DEK
  const noCache = createSealer({ kms: localKms({ keys: MASTER }), cacheOnSeal: false });
  const seal = await compare(
    () => perOp(OPS, () => noCache.seal(plaintext, CTX)),
    () =>
      perOp(OPS, () => {
        // the leanest plain way: one random draw for the data key and both nonces, the
        // data key used as a raw buffer, no concatenation
        const rnd = randomBytes(56);
        const fresh = rnd.subarray(0, 32);
        const wrap = createCipheriv('aes-256-gcm', master, rnd.subarray(32, 44));
        wrap.setAAD(aad);
        const wrapped = wrap.update(fresh);
        wrap.final();
        const seal = createCipheriv('aes-256-gcm', fresh, rnd.subarray(44, 56));
        seal.setAAD(aad);
        const ct = seal.update(plaintext);
        seal.final();
        return [wrapped, wrap.getAuthTag(), ct, seal.getAuthTag()];
      }),
    { rounds: 7 },
  );
  figures.push(ratioFigure('vault.seal_ratio', seal, '≤ 2'));

  // vault.kms_unwraps_per_record: 10,000 opens over 100 records, within the cache bounds
  const counting = createSealer({ kms: localKms({ keys: MASTER }), cacheOnSeal: false });
  const records = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const ctx = { ...CTX, recordId: `019a0000-0000-7000-8000-${String(i).padStart(12, '0')}` };
      return { ctx, sealed: await counting.seal(SECRET, ctx) };
    }),
  );
  const before = counting.stats().kmsUnwraps;
  for (let i = 0; i < 10_000; i++) {
    const r = records[i % 100]!;
    (await counting.open(r.sealed, r.ctx)).fill(0);
  }
  figures.push({ metric: 'vault.kms_unwraps_per_record', value: (counting.stats().kmsUnwraps - before) / 100, unit: 'unwraps', target: '1' });

  // vault.withkey_ratio: withKey on SQLite vs a raw prepared select + raw open
  const standIn = await startGeminiStandIn({ acceptKey: () => true });
  const database = await createTestDatabase('sqlite');
  const byok = await createByok({ database: database.config, kms: localKms({ keys: MASTER }), providers: [gemini({ baseUrl: standIn.url })] });
  const { user } = await byok.users.findOrCreate({ issuer: 'https://bench.test', subject: 'bench' });
  await byok.keyVault.setKey(user.id, 'gemini', SECRET);
  const file = (database.config as { sqlite: string }).sqlite;
  const raw = new Database(file, { readonly: true });
  raw.pragma('journal_mode = WAL');
  // the columns withKey needs: which row, whose, its status and the sealed value
  const select = raw.prepare('SELECT id, user_id, provider, status, sealed FROM byok_provider_keys WHERE user_id = ? AND provider = ?');
  const withKey = await compare(
    () => perOp(OPS / 4, () => byok.keyVault.withKey(user.id, 'gemini', (k) => k.length)),
    () =>
      perOp(OPS / 4, () => {
        const row = select.get(user.id, 'gemini') as { sealed: string; status: string };
        if (!row.sealed || row.status === 'invalid') throw new Error('row missing');
        return rawOpen(dek, rawSealed, aad).length;
      }),
    { rounds: 7 },
  );
  figures.push(ratioFigure('vault.withkey_ratio', withKey, '≤ 1.5'));
  raw.close();
  await byok.close();
  await standIn.close();
  await database.drop();

  // AWS Encryption SDK, fastest configuration here: committing suite without signing,
  // caching materials manager, raw AES keyring.
  const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new RawAesKeyringNode({
    keyName: 'bench',
    keyNamespace: 'byok-bench',
    unencryptedMasterKey: new Uint8Array(Buffer.alloc(32, 9)),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const cmm = new NodeCachingMaterialsManager({
    backingMaterials: keyring,
    cache: getLocalCryptographicMaterialsCache(1000),
    maxAge: 60 * 60 * 1000,
    maxMessagesEncrypted: 2 ** 32,
  });
  const encryptionContext = { purpose: CTX.purpose, userId: CTX.userId, provider: CTX.provider!, recordId: CTX.recordId };
  const suiteId = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
  const theirs = async () => {
    const { result } = await encrypt(cmm, plaintext, { encryptionContext, suiteId });
    const { plaintext: back } = await decrypt(cmm, result);
    return back;
  };
  const ours = async () => {
    const s = await sealer.seal(plaintext, CTX);
    return sealer.open(s, CTX);
  };
  const PAIRS = 2_000;
  const pairs = await compare(
    () => perOp(PAIRS, ours),
    () => perOp(PAIRS, theirs),
    { rounds: 5 },
  );
  // speedup = their time per pair / ours (higher is better)
  const speedups = pairs.ratios.map((r) => 1 / r);
  figures.push({ metric: 'vault.speedup_vs_aws_esdk', value: median(speedups), min: Math.min(...speedups), max: Math.max(...speedups), unit: 'x', target: '≥ 10' });

  const { result: esdkBytes } = await encrypt(cmm, plaintext, { encryptionContext, suiteId });
  figures.push({ metric: 'vault.size_ratio_vs_aws_esdk', value: sealed.length / esdkBytes.length, unit: 'ratio', target: '≤ 0.5', note: `${sealed.length} B vs ${esdkBytes.length} B` });
  console.log(`vault: sealed ${sealed.length} B; AWS ESDK message ${esdkBytes.length} B`);
  await sealer.close();
  return figures;
}
