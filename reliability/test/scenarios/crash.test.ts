import { describe, expect, it } from 'vitest';
import { runCrash } from '../../src/scenarios/crash';

describe('crash safety on PostgreSQL (reduced: 50 concurrent sends, then the rewrap and audit checks)', () => {
  it('loses nothing acknowledged, duplicates nothing, recovers interrupted replies, resumes and finishes a killed rewrap, and the audit trail verifies', async () => {
    const result = await runCrash();
    console.log(JSON.stringify(result.figures));
    expect(result.failures.slice(0, 10)).toEqual([]);
    expect(result.failures).toHaveLength(0);
    expect(result.figures.acknowledged).toBeGreaterThan(0);
    expect(result.figures.repliesCutMidStream).toBeGreaterThan(0);
  }, 120_000);
});
