import { describe, expect, it } from 'vitest';
import { FULL, writeFigures } from '../../src/run-mode';
import { runInstances } from '../../src/scenarios/instances';

describe('two instances sharing PostgreSQL and Redis', () => {
  it('sign in on one and chat on the other, resume and stop across them, revoke at once in strict mode, rotate keys, and hold rate limits across both', async () => {
    const result = await runInstances();
    // The figures reach docs/reliability.md (run.ts) whether or not the checks below pass.
    writeFigures('instances', { ...result, failures: result.failures.slice(0, 50), failureCount: result.failures.length });
    console.log(JSON.stringify(result.figures));
    expect(result.failures).toEqual([]);
  }, FULL ? 900_000 : 120_000);
});
