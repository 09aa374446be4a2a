import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, type Byok } from '@byok/core';
import { runChatPurge } from '../src/cli/chat-command';
import { runCli } from '../src/cli/main';
import type { ChatSessionRow } from '../src/store/chat-repositories';
import { uuidv7 } from '../src/util/ids';

const DAY = 86_400_000;

function io(cwd: string, tty = false) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: { cwd, stdout: { write: (t: string) => (out.stdout += t) }, stderr: { isTTY: tty, write: (t: string) => (out.stderr += t) } },
  };
}

describe('byok chat purge', () => {
  let dir: string;
  let bare: string;
  let dbFile: string;
  let userId: string;

  const open = () => createByok({ database: { sqlite: dbFile } });

  /** `count` sessions of one message each, last active `ageDays` ago. */
  async function seed(byok: Byok, count: number, ageDays: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const at = Date.now() - ageDays * DAY - i;
      const row: ChatSessionRow = {
        id: uuidv7(at),
        userId,
        title: null,
        provider: 'gemini',
        model: 'gemini-2.5-flash',
        systemPrompt: null,
        activeLeafId: null,
        lastSeq: 0,
        usage: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
        createdAt: at,
        updatedAt: at,
      };
      await byok.store.chatSessions.insert(row);
      await byok.store.chatMessages.append(userId, row.id, (seq) => ({
        id: uuidv7(at),
        sessionId: row.id,
        userId,
        parentId: null,
        seq,
        role: 'user',
        text: 'hello',
        parts: '[]',
        status: 'complete',
        errorCode: null,
        clientMessageId: null,
        inputHash: null,
        runId: null,
        leaseExpiresAt: null,
        stopRequestedAt: null,
        usage: null,
        usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
        tokenEstimate: 1,
        createdAt: at,
        updatedAt: at,
      }));
      ids.push(row.id);
    }
    return ids;
  }

  async function remaining(ids: string[]): Promise<number> {
    const byok = await open();
    try {
      let n = 0;
      for (const id of ids) if (await byok.store.chatSessions.get(userId, id)) n++;
      return n;
    } finally {
      await byok.close();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'byok-chat-purge-'));
    bare = mkdtempSync(join(tmpdir(), 'byok-chat-purge-bare-'));
    dbFile = join(dir, 'byok.db');
    writeFileSync(join(dir, 'byok.config.mjs'), `export default { database: { sqlite: ${JSON.stringify(dbFile)} }, chat: { retention: { maxAgeMs: ${30 * DAY} } } };\n`);
    writeFileSync(join(bare, 'byok.config.mjs'), `export default { database: { sqlite: ${JSON.stringify(dbFile)} } };\n`);
    const byok = await open();
    userId = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'cli-purge' })).user.id;
    await byok.close();
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(bare, { recursive: true, force: true });
  });

  it('deletes the sessions past the configured maximum age and prints a JSON summary', async () => {
    const byok = await open();
    const old = await seed(byok, 3, 40);
    const young = await seed(byok, 2, 5);
    await byok.close();

    const run = io(dir);
    expect(await runCli(['chat', 'purge', '--json'], run.io)).toBe(0);
    const report = JSON.parse(run.out.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ maxAgeMs: 30 * DAY, sessions: 3, messages: 3, total: 3, batches: 1, kept: 0, complete: true });
    expect(run.out.stderr).toBe('');
    expect(await remaining(old)).toBe(0);
    expect(await remaining(young)).toBe(2);
  });

  it('draws a progress bar on a TTY, batch by batch, and a plain summary', async () => {
    const byok = await open();
    const old = await seed(byok, 3, 100);
    await byok.close();

    const run = io(dir, true);
    expect(await runCli(['chat', 'purge', '--batch', '1'], run.io)).toBe(0);
    expect(run.out.stderr).toContain('\r[##########....................] 1/3 sessions, 1 messages');
    expect(run.out.stderr).toContain('\r[##############################] 3/3 sessions, 3 messages');
    expect(run.out.stderr.endsWith('\n')).toBe(true);
    expect(run.out.stdout).toMatch(/^purged 3 session\(s\) and 3 message\(s\) inactive since before \d{4}-\d{2}-\d{2}T.*\(max age 30 day\(s\)\), in 3 batch\(es\)\n$/);
    expect(await remaining(old)).toBe(0);
  });

  it('stops after the current batch when interrupted, and the next run deletes the rest', async () => {
    const byok = await open();
    const old = await seed(byok, 4, 60);
    try {
      const stop = new AbortController();
      const out = { stdout: '', stderr: '' };
      const stderr = { isTTY: true, write: (t: string) => ((out.stderr += t), stop.abort()) };
      const code = await runChatPurge(['--batch', '1'], { byok, retention: { maxAgeMs: 30 * DAY }, stdout: { write: (t: string) => (out.stdout += t) }, stderr, signal: stop.signal });
      expect(code).toBe(130);
      expect(out.stdout).toContain('interrupted: run `byok chat purge` again');
    } finally {
      await byok.close();
    }
    expect(await remaining(old)).toBe(3);

    const run = io(dir);
    expect(await runCli(['chat', 'purge', '--json'], run.io)).toBe(0);
    expect(JSON.parse(run.out.stdout)).toMatchObject({ sessions: 3, complete: true });
    expect(await remaining(old)).toBe(0);
  });

  it('refuses unknown flags, bad values, stray arguments and a missing retention, deleting nothing', async () => {
    const byok = await open();
    const old = await seed(byok, 1, 90);
    await byok.close();
    for (const argv of [
      ['chat', 'purge', '--bacth', '5'],
      ['chat', 'purge', '--batch', '0'],
      ['chat', 'purge', '--batch', '2.5'],
      ['chat', 'purge', '--batch', '10001'],
      ['chat', 'purge', '--batch'],
      ['chat', 'purge', '--json=yes'],
      ['chat', 'purge', 'now'],
      ['chat', 'purge', '--status'],
      ['chat'],
      ['chat', 'prune'],
    ]) {
      const run = io(dir);
      expect(await runCli(argv, run.io), argv.join(' ')).toBe(2);
      expect(run.out.stderr, argv.join(' ')).toMatch(/byok|unknown command/);
    }
    const run = io(bare);
    expect(await runCli(['chat', 'purge'], run.io)).toBe(2);
    expect(run.out.stderr).toContain('no retention is configured: set chat.retention.maxAgeMs');
    const tooShort = await open();
    try {
      const out = { stdout: '', stderr: '' };
      const code = await runChatPurge([], { byok: tooShort, retention: { maxAgeMs: 5 }, stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t) } });
      expect(code).toBe(2);
      expect(out.stderr).toContain('at least 60000');
    } finally {
      await tooShort.close();
    }
    expect(await remaining(old)).toBe(1);
    const help = io(dir);
    expect(await runCli(['--help'], help.io)).toBe(0);
    expect(help.out.stdout).toContain('byok chat purge [--batch N] [--json]');
  });
});
