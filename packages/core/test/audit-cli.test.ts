import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryTamper } from '@byok/testing';
import { auditHashedFields, auditRowHash } from '../src/audit/audit-chain';
import { generateAuditCheckpointKeys } from '../src/audit/audit-checkpoint';
import { AuditService } from '../src/audit/audit-service';
import { fileCheckpointSink } from '../src/audit/file-checkpoint-sink';
import { runAuditVerify, WITHOUT_CHECKPOINTS_NOTICE } from '../src/cli/audit-command';
import { createStore } from '../src/store/create-store';
import type { AuditRow, Store } from '../src/store/store';
import { uuidv7 } from '../src/util/ids';

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
    expect(ctx.stdout.text.split('\n')[0]).toBe('audit verify: OK — 1 chain, 4 rows, no checkpoints given');
  });

  it('says plainly what a run without checkpoints does not prove', async () => {
    const t = await trail();
    const ctx = ctxFor(t.store, t.writer);
    expect(await runAuditVerify([], ctx)).toBe(0);
    expect(ctx.stdout.text).toBe(
      ['audit verify: OK — 2 chains, 8 rows, no checkpoints given', ...WITHOUT_CHECKPOINTS_NOTICE.map((line) => `  ${line}`), ''].join('\n'),
    );
    const text = WITHOUT_CHECKPOINTS_NOTICE.join(' ');
    expect(text).toContain('NOT PROVEN without checkpoints');
    expect(text).toContain('whoever can write to the database can edit, insert or delete rows and recompute every later hash and the head');
    expect(text).toContain('--checkpoints FILE');
    // An intact run with checkpoints that pin every row says nothing of the kind.
    ctx.stdout.text = '';
    expect(await runAuditVerify(['--checkpoints', t.file], ctx)).toBe(0);
    expect(ctx.stdout.text).toBe('audit verify: OK — 2 chains, 8 rows, 4 checkpoints matched\n');
    // --json carries the same fact as data.
    ctx.stdout.text = '';
    expect(await runAuditVerify(['--json'], ctx)).toBe(0);
    expect(JSON.parse(ctx.stdout.text)).toMatchObject({
      ok: true,
      checkpoints: 0,
      coverage: { checkpointsGiven: false, chainsWithoutCheckpoint: 2, rowsAfterLastCheckpoint: 0, chainsWithRowsAfterLastCheckpoint: 0 },
    });
  });

  it('an edit re-hashed to the head passes without checkpoints (and says so), and fails with them', async () => {
    const t = await trail();
    const rows = t.rows.filter((row) => row.actorUserId === t.users[0]);
    // Someone who can write to the database edits seq 1 and recomputes every later hash and the head.
    const tamper = memoryTamper(t.store);
    let prevHash = rows[0]!.prevHash;
    const forged: AuditRow[] = rows.map((row, i) => ({ ...row, ...(i === 0 ? { action: 'auth.logout' } : {}) }));
    for (const row of forged) {
      const { id, ...fields } = row;
      const hash = auditRowHash(prevHash, auditHashedFields(row));
      await tamper.updateAuditRow(id, { ...fields, prevHash, hash });
      prevHash = hash;
    }
    await tamper.setHead({ chain: rows[0]!.chain, lastSeq: rows.length, lastHash: prevHash });

    const ctx = ctxFor(t.store, t.writer);
    expect(await runAuditVerify([], ctx)).toBe(0);
    expect(ctx.stdout.text).toContain('NOT PROVEN without checkpoints');
    ctx.stdout.text = '';
    expect(await runAuditVerify(['--checkpoints', t.file], ctx)).toBe(1);
    expect(ctx.stdout.text).toMatch(/^audit verify: FAILED — first bad row: chain user:\S+, seq 2, id \S+: checkpoint_mismatch/);
  });

  it('names what the checkpoints leave unpinned: chains without one, rows after the last one', async () => {
    const t = await trail();
    // The writer is closed: these rows come after every checkpoint.
    const late = new AuditService({ store: t.store });
    await late.record({ actorUserId: t.users[0]!, action: 'auth.refresh' });
    await late.record({ actorUserId: t.users[0]!, action: 'auth.refresh' });
    await late.record({ actorUserId: uuidv7(), action: 'auth.refresh' });
    const ctx = ctxFor(t.store, t.writer);
    expect(await runAuditVerify(['--checkpoints', t.file], ctx)).toBe(0);
    expect(ctx.stdout.text.split('\n').slice(0, 2)).toEqual([
      'audit verify: OK — 3 chains, 11 rows, 4 checkpoints matched',
      '  NOT PROVEN for part of the trail: 1 of 3 chains has no checkpoint, and 2 rows in 1 chain came after the last checkpoint.',
    ]);
    expect(ctx.stdout.text).toContain('Those rows are only internally consistent');
    ctx.stdout.text = '';
    expect(await runAuditVerify(['--checkpoints', t.file, '--json'], ctx)).toBe(0);
    expect(JSON.parse(ctx.stdout.text).coverage).toEqual({
      checkpointsGiven: true,
      chainsWithoutCheckpoint: 1,
      rowsAfterLastCheckpoint: 2,
      chainsWithRowsAfterLastCheckpoint: 1,
    });
    // Scoped to a fully pinned chain: nothing to say.
    ctx.stdout.text = '';
    expect(await runAuditVerify(['--checkpoints', t.file, '--chain', `user:${t.users[1]}`], ctx)).toBe(0);
    expect(ctx.stdout.text).toBe('audit verify: OK — 1 chain, 4 rows, 2 checkpoints matched\n');
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
