import { describe, expect, it } from 'vitest';
import { FULL, writeFigures } from '../../src/run-mode';
import { runCrash } from '../../src/scenarios/crash';

describe('crash safety on PostgreSQL (quick: 50 concurrent sends; full: 500)', () => {
  it('loses nothing acknowledged, duplicates nothing, recovers interrupted replies, resumes and finishes a killed rewrap, and the audit trail verifies', async () => {
    const result = await runCrash();
    // The figures reach docs/reliability.md (run.ts) whether or not the checks below pass.
    writeFigures('crash-safety', { ...result, failures: result.failures.slice(0, 50), failureCount: result.failures.length });
    console.log(JSON.stringify(result.figures));
    expect(result.failures.slice(0, 10)).toEqual([]);
    expect(result.failures).toHaveLength(0);
    expect(result.figures.acknowledged).toBeGreaterThan(0);
    expect(result.figures.repliesCutMidStream).toBeGreaterThan(0);
  }, FULL ? 900_000 : 120_000);
});
