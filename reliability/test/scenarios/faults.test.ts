import { describe, expect, it } from 'vitest';
import { runFaults } from '../../src/scenarios/faults';

describe('faults: KMS, providers, Redis and PostgreSQL going away', () => {
  it('give typed errors with retry hints, lose nothing, and recover without a restart', async () => {
    const result = await runFaults();
    console.log(JSON.stringify(result.figures));
    expect(result.failures).toEqual([]);
  }, 120_000);
});
