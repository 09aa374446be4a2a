import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAnswer, formatFailure, fuzzOperations, runFuzz, type FuzzReport } from '../src/fuzz';
import { send } from '../src/http-client';
import { runSeed } from '../src/prng';
import { FULL, runDatabases, writeFigures } from '../src/run-mode';
import { scanForSecrets } from '../src/secret-scan';
import { ADAPTERS, startWorld, type World } from '../src/world';

const PER_ADAPTER = Number(process.env.BYOK_RELIABILITY_FUZZ ?? (FULL ? 10_000 : 200));
const seed = runSeed(FULL ? undefined : 20261202);

describe.each(runDatabases())(`fuzzing every operation through every adapter on %s (seed ${seed}, ${PER_ADAPTER} requests per adapter)`, (database) => {
  let world: World;
  let report: FuzzReport;

  beforeAll(async () => {
    world = await startWorld({ database, logins: ['vera', 'victor'] });
  });
  afterAll(async () => world?.close());

  it('answers every hostile request with a typed 4xx or a success: no 5xx, no crash, no hang, nobody else changed', async () => {
    console.log(`fuzz on ${database}: seed ${seed} (reproduce with BYOK_RELIABILITY_SEED=${seed})`);
    report = await runFuzz(world, { seed, requestsPerAdapter: PER_ADAPTER, concurrency: FULL ? 4 : 2, checkEvery: FULL ? 500 : 125 });
    writeFigures(`fuzz-${database}`, report);
    for (const f of report.perAdapter) console.log(`${f.adapter}: ${f.requests} requests in ${(f.durationMs / 1000).toFixed(1)} s, slowest ${f.maxMs.toFixed(0)} ms, statuses ${JSON.stringify(f.byStatus)}`);
    const shown = report.failures.slice(0, 15).map(formatFailure).join('\n\n');
    // What byok logged as errors (an internal error's cause is only there), the last few.
    const errors = world.logs.filter((line) => /"(err|error)"|internal/i.test(line)).slice(-5).map((line) => line.slice(0, 2_000));
    expect(report.failures, `seed ${seed}: ${report.failures.length} failures\n${shown}${errors.length ? `\n\nbyok's last error log lines:\n${errors.join('\n')}` : ''}`).toEqual([]);
    for (const f of report.perAdapter) expect(f.requests).toBe(PER_ADAPTER);
    expect(new Set(report.operations)).toEqual(new Set(fuzzOperations(world).map((o) => o.name)));
    expect(report.operations.length).toBe(world.byok.http.operations().length);
  }, FULL ? 3_600_000 : 120_000);

  // Requests the fuzzer once found failing, sent every run on every adapter (they fail until fixed).
  it.each([
    ['a string field whose value is an object with a `length` and a `toString` that is no function', 'me.preferences.update', { language: { length: { toString: false } } }],
    ['the same on a chat session title', 'chat.sessions.create', { provider: 'gemini', model: 'gemini-2.5-flash', title: { length: { toString: false } } }],
  ])('answers %s with a typed 4xx on every adapter', async (_what, name, body) => {
    const problems: string[] = [];
    for (const adapter of ADAPTERS) {
      const op = fuzzOperations(world).find((o) => o.name === name)!;
      const user = world.users[0]!;
      const url = adapter === 'trpc' ? `${world.hosts.trpc.base}/${name}` : `${world.hosts[adapter].base}${op.path}`;
      const request = { method: adapter === 'trpc' ? 'POST' : op.method, url, headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) };
      const answer = await send(request, 15_000);
      const problem = checkAnswer(world, adapter, op, request, answer);
      if (problem) problems.push(`${adapter}: ${request.method} ${new URL(url).pathname} ${request.body} → ${problem}`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('answers a malformed percent-encoding in a path id with byok’s typed error on every adapter', async () => {
    const problems: string[] = [];
    const user = world.users[0]!;
    for (const adapter of ADAPTERS.filter((a) => a !== 'trpc')) {
      for (const segment of ['%zz', '%', '%E0%A4%A']) {
        const op = fuzzOperations(world).find((o) => o.name === 'chat.sessions.get')!;
        const request = { method: 'GET', url: `${world.hosts[adapter].base}/chat/sessions/${segment}`, headers: { authorization: `Bearer ${user.accessToken}` } };
        const answer = await send(request, 15_000);
        const problem = checkAnswer(world, adapter, op, request, answer);
        if (problem) problems.push(`${adapter}: GET /api/chat/sessions/${segment} → ${problem}`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('leaves no secret in the database, the logs, the responses or the audit trail afterwards', async () => {
    const found = await scanForSecrets(world);
    writeFigures(`fuzz-${database}-leak-scan`, found.figures);
    expect(found.leaks, found.leaks.join('\n')).toEqual([]);
  });
});
