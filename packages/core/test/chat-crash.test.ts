import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import type { Byok } from '@byok/core';
import { collect, longText, MASTER, reading, startChatHarness, streamedText, until, type ChatHarness } from './chat-harness';

const child = fileURLToPath(new URL('./chat-crash-child.ts', import.meta.url));
const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

describe.each(selectTestBackends(['sqlite', 'postgres', 'mysql'] as const))('a process killed mid-reply on %s', (kind) => {
  let h: ChatHarness;
  let survivor: Byok;
  beforeAll(async () => {
    h = await startChatHarness(kind, { chat: { leaseMs: 1_000 } });
    survivor = await h.another({ chat: { leaseMs: 1_000 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('leaves a reply that recovery marks incomplete after its lease, while a live instance’s reply is untouched', async () => {
    const text = longText(200);
    h.gemini.setReply(() => text);
    h.gemini.configure({ chunks: 200, chunkDelayMs: 50 });
    const doomed = await h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const proc = spawn(process.execPath, ['--import', 'tsx', child, JSON.stringify(h.db!.config), h.gemini.url, MASTER, h.alice, doomed.id, '1000'], {
      env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
    await until(() => out.includes('streaming') || proc.exitCode !== null, 60_000).catch(() => undefined);
    expect(out, err.slice(-2_000)).toContain('streaming');
    const runId = /streaming (\S+)/.exec(out)![1]!;
    // Let it save some of the reply, then kill it where it stands.
    await new Promise((resolve) => setTimeout(resolve, 600));
    proc.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    // A live reply on the surviving instance, across the recovery of the dead one.
    h.gemini.setReply(() => longText(40));
    h.gemini.configure({ chunks: 40, chunkDelayMs: 60 });
    const kept = await survivor.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const live = reading(survivor.chat.send(h.alice, kept.id, { text: 'stay' }));
    await live.firstDelta;

    const dead = await h.byok.store.chatMessages.get(h.alice, runId);
    expect(dead?.status).toBe('streaming');
    await until(async () => (await h.byok.store.chatMessages.get(h.alice, runId))?.status !== 'streaming', 10_000);
    const recovered = (await h.byok.chat.getMessage(h.alice, doomed.id, runId));
    expect(recovered).toMatchObject({ status: 'incomplete', errorCode: 'lease_expired' });
    expect(recovered.text.length).toBeGreaterThan(0);
    expect(text.startsWith(recovered.text)).toBe(true);

    const survived = await live.done;
    expect(streamedText(survived)).toBe(longText(40));
    expect((await survivor.chat.listMessages(h.alice, kept.id)).items.at(-1)).toMatchObject({ status: 'complete' });
    // The dead reply's session takes a new turn, and resuming it gives the stored part and its end.
    h.gemini.configure({ chunkDelayMs: 0 });
    const resumed = await collect((await survivor.chat.resume(h.alice, doomed.id, { lastEventId: `${runId}:3:3` }))!);
    expect(streamedText(resumed)).toBe(recovered.text);
    await collect(survivor.chat.send(h.alice, doomed.id, { text: 'after' }));
    expect((await survivor.chat.listMessages(h.alice, doomed.id)).items.map((m) => m.status)).toEqual(['complete', 'incomplete', 'complete', 'complete']);
  }, 90_000);
});
