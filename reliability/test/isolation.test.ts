import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIsolation } from '../src/isolation';
import { runSeed } from '../src/prng';
import { FULL, runDatabases, writeFigures } from '../src/run-mode';
import { scanForSecrets } from '../src/secret-scan';
import { startWorld, type World } from '../src/world';

const STEPS = Number(process.env.BYOK_RELIABILITY_STEPS ?? (FULL ? 400 : 25));
const seed = runSeed(FULL ? undefined : 20261202);

describe.each(runDatabases())(`isolation between users over HTTP on %s (seed ${seed}, ${STEPS} steps)`, (database) => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld({ database, logins: FULL ? ['ada', 'bo', 'cy', 'di', 'ed', 'flo'] : ['ada', 'bo', 'cy'] });
  });
  afterAll(async () => world?.close());

  it('after every random step nobody has read, changed or learned of another user’s rows', async () => {
    console.log(`isolation seed ${seed} (reproduce with BYOK_RELIABILITY_SEED=${seed})`);
    const report = await runIsolation(world, { seed, steps: STEPS });
    writeFigures(`isolation-${database}`, report);
    console.log(`isolation: ${report.steps} steps, ${report.probes} probes, ${report.checks} list/export checks in ${(report.durationMs / 1000).toFixed(1)} s: ${JSON.stringify(report.actions)}`);
    expect(report.failures, report.failures.slice(0, 20).join('\n')).toEqual([]);
    expect(report.steps).toBe(STEPS);
    expect(report.probes).toBeGreaterThan(0);
  }, FULL ? 3_600_000 : 120_000);

  it('leaves no secret in the database, the logs, the responses or the audit trail afterwards', async () => {
    const found = await scanForSecrets(world);
    writeFigures(`isolation-${database}-leak-scan`, found.figures);
    expect(found.leaks, found.leaks.join('\n')).toEqual([]);
  });
});
