import { describe, expect, it } from 'vitest';
import { startCallDeadline } from '@byok/core/llm';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startCallDeadline', () => {
  it('aborts its signal when the caller aborts, and says so', () => {
    const controller = new AbortController();
    const deadline = startCallDeadline({ signal: controller.signal, timeoutMs: 10_000 });
    expect(deadline.signal.aborted).toBe(false);
    controller.abort();
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.callerAborted()).toBe(true);
    expect(deadline.timedOut()).toBe(false);
    deadline.dispose();
  });

  it('is aborted from the start for an already-aborted signal', () => {
    const deadline = startCallDeadline({ signal: AbortSignal.abort() });
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.callerAborted()).toBe(true);
  });

  it('times out, and says it was the timeout', async () => {
    const deadline = startCallDeadline({ timeoutMs: 20 });
    await sleep(60);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.timedOut()).toBe(true);
    expect(deadline.callerAborted()).toBe(false);
  });

  it('touch() restarts the timer (idle timeout)', async () => {
    const deadline = startCallDeadline({ timeoutMs: 60 });
    for (let i = 0; i < 4; i += 1) {
      await sleep(30);
      deadline.touch();
    }
    expect(deadline.signal.aborted).toBe(false);
    await sleep(100);
    expect(deadline.timedOut()).toBe(true);
  });

  it('pause() holds the timer until the next touch()', async () => {
    const deadline = startCallDeadline({ timeoutMs: 20 });
    deadline.pause();
    await sleep(60);
    expect(deadline.signal.aborted).toBe(false);
    deadline.touch();
    await sleep(60);
    expect(deadline.timedOut()).toBe(true);
  });

  it('abort() closes without blaming caller or timeout; dispose() stops the timer', async () => {
    const closed = startCallDeadline({ timeoutMs: 1_000 });
    closed.abort();
    expect(closed.signal.aborted).toBe(true);
    expect(closed.callerAborted() || closed.timedOut()).toBe(false);

    const disposed = startCallDeadline({ timeoutMs: 20 });
    disposed.dispose();
    disposed.touch();
    await sleep(50);
    expect(disposed.signal.aborted).toBe(false);
  });

  it('stops listening to the caller after dispose()', () => {
    const controller = new AbortController();
    const deadline = startCallDeadline({ signal: controller.signal });
    deadline.dispose();
    controller.abort();
    expect(deadline.callerAborted()).toBe(false);
  });
});
