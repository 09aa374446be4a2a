import { describe, expect, it } from 'vitest';
import { FULL, writeFigures } from '../../src/run-mode';
import { runLoad } from '../../src/scenarios/load';

describe('load on PostgreSQL (quick: 20 users for 10 s; full: 200 users for 60 s)', () => {
  it('has zero errors, stores every message, and keeps RSS flat', async () => {
    const result = await runLoad();
    // The figures reach docs/reliability.md (run.ts) whether or not the checks below pass.
    writeFigures('load', { ...result, failures: result.failures.slice(0, 50), failureCount: result.failures.length });
    console.log(JSON.stringify(result.figures));
    expect(result.failures).toEqual([]);
    expect(result.figures.turns).toBeGreaterThan(20);
    expect(result.figures.stopped).toBeGreaterThan(0);
    expect(result.figures.reconnected).toBeGreaterThan(0);
  }, FULL ? 900_000 : 120_000);
});
