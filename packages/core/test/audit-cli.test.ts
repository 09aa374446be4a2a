import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService, createStore, fileCheckpointSink, generateAuditCheckpointKeys, runAuditVerify, uuidv7, type Store } from '@byok/core';
import { memoryTamper } from '@byok/testing';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'byok-audit-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function output() {
  return { text: '', write(s: string) { this.text += s; return true; } };
}

async function trail(every = 2) {
  const store = await createStore({ database: { memory: true } });
  const keys = generateAuditCheckpointKeys();
  const file = join(dir, `${uuidv7()}.jsonl`);
  const writer = new AuditService({ store, checkpoints: { signingKey: keys.privateKey, sinks: [fileCheckpointSink(file)], every } });
  const users = [uuidv7(), uuidv7()];
  const rows = [];
  for (let i = 0; i < 4; i++) for (const u of users) rows.push(await writer.record({ actorUserId: u, action: 'auth.refresh' }));
  await writer.close();
  const pub = join(dir, `${uuidv7()}.pem`);
  await writeFile(pub, keys.publicKey);
  return { store, writer, file, pub, users, rows };
}

function ctxFor(store: Store, audit: AuditService) {
  return { store, audit, stdout: output(), stderr: output() };
}

describe('byok audit verify', () => {
  it('verifies with only the public key, scoped to a chain when asked', async () => {
    const t = await trail();
    const ctx = ctxFor(t.store, new AuditService({ store: t.store }));
    expect(await runAuditVerify([`--checkpoints=${t.file}`, '--public-key', t.pub], ctx)).toBe(0);
    expect(ctx.stdout.text).toBe('audit verify: OK — 2 chains, 8 rows, 4 checkpoints matched\n');
    ctx.stdout.text = '';
    expect(await runAuditVerify(['--chain', `user:${t.users[0]}`], ctx)).toBe(0);
    expect(ctx.stdout.text).toBe('audit verify: OK — 1 chain, 4 rows, no checkpoints given\n');
  });

  it('names the first bad row and every other bad chain, exit code 1', async () => {
    const t = await trail();
    const tamper = memoryTamper(t.store);
    const [a0, b0] = [t.rows[0]!, t.rows[1]!];
    await tamper.updateAuditRow(b0.id, { action: 'auth.logout' });
    await tamper.deleteAuditRow(t.rows[2]!.id); // seq 2 of user a
    const ctx = ctxFor(t.store, t.writer);
    expect(await runAuditVerify(['--checkpoints', t.file], ctx)).toBe(1);
    const [first, also] = [`user:${a0.actorUserId}`, `user:${b0.actorUserId}`].sort();
    const lines = ctx.stdout.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^audit verify: FAILED — first bad row: chain ${first}, seq \\d, id \\S+: (row_missing|hash_mismatch) \\(.+\\)$`));
    expect(lines[1]).toMatch(new RegExp(`^  also: chain ${also}, seq \\d, id `));
    expect(lines[2]).toBe('checked 2 chains, 2 rows, 4 checkpoints'); // each chain is read up to its first bad row
    expect(ctx.stdout.text).toContain(`seq 1, id ${b0.id}: hash_mismatch`);
    expect(ctx.stdout.text).toContain(`seq 2, id ${t.rows[2]!.id}: row_missing`);
  });

  it('exits 2 on usage and configuration errors', async () => {
    const t = await trail();
    const keyless = ctxFor(t.store, new AuditService({ store: t.store }));
    expect(await runAuditVerify(['--nope'], keyless)).toBe(2);
    expect(keyless.stderr.text).toContain('Unknown argument: --nope');
    expect(keyless.stderr.text).toContain('Usage: byok audit verify');
    expect(await runAuditVerify(['--checkpoints'], keyless)).toBe(2);
    expect(await runAuditVerify(['--checkpoints', join(dir, 'missing.jsonl')], keyless)).toBe(2);
    expect(keyless.stderr.text).toContain('ENOENT');
    const empty = join(dir, 'empty.jsonl');
    await writeFile(empty, 'not json\n');
    expect(await runAuditVerify(['--checkpoints', empty], keyless)).toBe(2);
    expect(keyless.stderr.text).toContain('no checkpoints found');
    keyless.stderr.text = '';
    expect(await runAuditVerify(['--checkpoints', t.file], keyless)).toBe(2);
    expect(keyless.stderr.text).toContain('config_invalid');
    expect(await runAuditVerify(['--help'], keyless)).toBe(0);
    expect(keyless.stdout.text).toContain('--checkpoints FILE');
  });
});
