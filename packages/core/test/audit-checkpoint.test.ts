import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fileCheckpointSink,
  generateAuditCheckpointKeys,
  loggerCheckpointSink,
  readAuditCheckpointFile,
  type AuditCheckpointSink,
  type SignedAuditCheckpoint,
} from '@byok/core';
import { AuditService } from '@byok/core/audit';
import { parseAuditCheckpoints, signAuditCheckpoint, verifyAuditCheckpoint } from '@byok/core/audit';
import { createStore, uuidv7 } from '@byok/core/store';

const keys = generateAuditCheckpointKeys();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'byok-audit-cp-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function collect(): AuditCheckpointSink & { items: SignedAuditCheckpoint[] } {
  const items: SignedAuditCheckpoint[] = [];
  return { items, write: (c) => void items.push(c) };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('signed checkpoints', () => {
  it('sign with Ed25519 and verify with the public key only', () => {
    const cp = { chain: 'system', seq: 42, id: uuidv7(), hash: 'a'.repeat(64), at: 1_764_000_000_000 };
    const signed = signAuditCheckpoint(cp, keys.privateKey);
    expect(signed).toMatchObject({ v: 1, ...cp });
    expect(signed.kid).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(verifyAuditCheckpoint(signed, [keys.publicKey])).toBe(true);
    for (const altered of [{ seq: 43 }, { hash: 'b'.repeat(64) }, { chain: 'user:x' }, { id: uuidv7() }, { at: 1 }]) {
      expect(verifyAuditCheckpoint({ ...signed, ...altered }, [keys.publicKey])).toBe(false);
    }
    expect(verifyAuditCheckpoint(signed, [generateAuditCheckpointKeys().publicKey])).toBe(false);
    expect(verifyAuditCheckpoint({ ...signed, seq: -1 }, [keys.publicKey])).toBe(false);
  });

  it('refuses keys that are not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => signAuditCheckpoint({ chain: 's', seq: 1, id: 'x', hash: 'a'.repeat(64), at: 1 }, rsa.privateKey)).toThrow(/Ed25519/);
    expect(() => signAuditCheckpoint({ chain: 's', seq: 1, id: 'x', hash: 'a'.repeat(64), at: 1 }, 'not a pem')).toThrow(/not a valid private key/);
  });

  it('parses the file sink lines and log lines, skipping everything else', () => {
    const a = signAuditCheckpoint({ chain: 'system', seq: 1, id: 'a', hash: 'a'.repeat(64), at: 1 }, keys.privateKey);
    const b = signAuditCheckpoint({ chain: 'system', seq: 2, id: 'b', hash: 'b'.repeat(64), at: 2 }, keys.privateKey);
    const text = [
      JSON.stringify(a),
      'plain text',
      JSON.stringify({ level: 30, msg: 'audit checkpoint', auditCheckpoint: b }),
      JSON.stringify({ level: 30, msg: 'something else' }),
      '{"v":1,"chain":"sys', // cut short by a crash
    ].join('\n');
    expect(parseAuditCheckpoints(text)).toEqual([a, b]);
  });
});

describe('checkpoint sinks and scheduling', () => {
  it('writes every N appends per chain to an append-only JSON-lines file', async () => {
    const store = await createStore({ database: { memory: true } });
    const file = join(dir, 'every.jsonl');
    const audit = new AuditService({ store, checkpoints: { signingKey: keys.privateKey, sinks: [fileCheckpointSink(file)], every: 3 } });
    const user = uuidv7();
    await Promise.all(Array.from({ length: 7 }, () => audit.record({ actorUserId: user, action: 'auth.refresh' })));
    for (let i = 0; i < 3; i++) await audit.record({ actorUserId: null, action: 'auth.login.failed' });
    await audit.close();
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    const checkpoints = await readAuditCheckpointFile(file);
    expect(lines).toHaveLength(checkpoints.length);
    expect(checkpoints.map((c) => [c.chain, c.seq]).sort()).toEqual([
      ['system', 3],
      [`user:${user}`, 3],
      [`user:${user}`, 6],
      [`user:${user}`, 7], // close() checkpoints what moved since
    ]);
    for (const c of checkpoints) expect(verifyAuditCheckpoint(c, [keys.publicKey])).toBe(true);
    expect(await audit.verify({ checkpoints })).toMatchObject({ ok: true, checkpoints: 4, rows: 10 });
  });

  it('writes to the host log, and the log file verifies', async () => {
    const store = await createStore({ database: { memory: true } });
    const log: string[] = [];
    const logger = { info: (obj: object, msg?: string) => void log.push(JSON.stringify({ level: 30, time: Date.now(), ...obj, msg })) };
    const audit = new AuditService({ store, checkpoints: { signingKey: keys.privateKey, sinks: [loggerCheckpointSink(logger)], every: 2 } });
    for (let i = 0; i < 4; i++) await audit.record({ actorUserId: null, action: 'auth.keys.rotated', metadata: { kid: `k${i}` } });
    expect(log).toHaveLength(2);
    expect(JSON.parse(log[0]!)).toMatchObject({ msg: 'audit checkpoint', auditCheckpoint: { chain: 'system', seq: 2 } });
    const checkpoints = parseAuditCheckpoints(log.join('\n'));
    expect(await audit.verify({ checkpoints })).toMatchObject({ ok: true, checkpoints: 2 });
  });

  it('checkpoints a due row recorded inside a transaction only once it has committed', async () => {
    const store = await createStore({ database: { memory: true } });
    const sink = collect();
    const audit = new AuditService({ store, checkpoints: { signingKey: keys.privateKey, sinks: [sink], every: 2 } });
    const user = uuidv7();
    await audit.record({ actorUserId: user, action: 'auth.refresh' });
    await expect(
      store.transaction(async (tx) => {
        await audit.record({ actorUserId: user, action: 'auth.refresh' }, tx);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await new Promise((r) => setTimeout(r, 150));
    expect(sink.items).toEqual([]);

    const row = await store.transaction(async (tx) => {
      const r = await audit.record({ actorUserId: user, action: 'auth.refresh' }, tx);
      await new Promise((resolve) => setTimeout(resolve, 30)); // still open when the first flush runs
      return r;
    });
    await until(() => sink.items.length > 0);
    expect(sink.items).toEqual([expect.objectContaining({ chain: `user:${user}`, seq: 2, id: row.id, hash: row.hash })]);
    await audit.close();
  });

  it('checkpoints moved chains on a timer, and on demand for every chain', async () => {
    const store = await createStore({ database: { memory: true } });
    const sink = collect();
    const audit = new AuditService({ store, checkpoints: { signingKey: keys.privateKey, sinks: [sink], every: 0, intervalMs: 40 } });
    const row = await audit.record({ actorUserId: null, action: 'auth.login.failed' });
    await until(() => sink.items.length === 1);
    expect(sink.items[0]).toMatchObject({ chain: 'system', seq: 1, id: row.id });
    await new Promise((r) => setTimeout(r, 120));
    expect(sink.items).toHaveLength(1); // nothing moved, nothing written
    await audit.record({ actorUserId: uuidv7(), action: 'auth.logout' });
    expect(await audit.checkpointAll()).toBe(2);
    await audit.close();
    expect(sink.items.length).toBeGreaterThanOrEqual(3);
    expect(await audit.verify({ checkpoints: sink.items })).toMatchObject({ ok: true, chains: 2 });
  });

  it('logs a failing sink without failing the audited action', async () => {
    const store = await createStore({ database: { memory: true } });
    const errors: unknown[] = [];
    const broken: AuditCheckpointSink = {
      write: () => {
        throw new Error('disk full at /var/log?token=abc');
      },
    };
    const good = collect();
    const audit = new AuditService({
      store,
      logger: { error: (obj) => void errors.push(obj) },
      checkpoints: { signingKey: keys.privateKey, sinks: [broken, good], every: 1 },
    });
    const row = await audit.record({ actorUserId: null, action: 'auth.login.failed' });
    expect(row.seq).toBe(1);
    expect(good.items).toHaveLength(1);
    expect(JSON.stringify(errors)).toContain('disk full');
    expect(JSON.stringify(errors)).not.toContain('abc');
  });

  it('needs a key: sinks without a signing key, checkpoints without a public key', async () => {
    const store = await createStore({ database: { memory: true } });
    expect(() => new AuditService({ store, checkpoints: { sinks: [collect()] } })).toThrow(/signing key/);
    const signed = signAuditCheckpoint({ chain: 'system', seq: 1, id: 'x', hash: 'a'.repeat(64), at: 1 }, keys.privateKey);
    const keyless = new AuditService({ store });
    await expect(keyless.verify({ checkpoints: [signed] })).rejects.toMatchObject({ code: 'config_invalid' });
    // a verifier holding only the public key
    const verifier = new AuditService({ store, checkpoints: { publicKeys: [keys.publicKey] } });
    expect((await verifier.verify({ checkpoints: [signed] })).firstBad).toMatchObject({ chain: 'system', reason: 'chain_missing' });
  });
});
