import { describe, expect, it } from 'vitest';
import { FULL, writeFigures } from '../../src/run-mode';
import { runFaults } from '../../src/scenarios/faults';

describe('faults: KMS, providers, Redis and PostgreSQL going away', () => {
  it('give typed errors with retry hints, lose nothing, and recover without a restart', async () => {
    const result = await runFaults();
    // The figures reach docs/reliability.md (run.ts) whether or not the checks below pass.
    writeFigures('faults', { ...result, failures: result.failures.slice(0, 50), failureCount: result.failures.length });
    console.log(JSON.stringify(result.figures));
    expect(result.failures).toEqual([]);
  }, FULL ? 900_000 : 120_000);
});
