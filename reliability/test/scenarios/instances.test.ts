import { describe, expect, it } from 'vitest';
import { runInstances } from '../../src/scenarios/instances';

describe('two instances sharing PostgreSQL and Redis', () => {
  it('sign in on one and chat on the other, resume and stop across them, revoke at once in strict mode, rotate keys, and hold rate limits across both', async () => {
    const result = await runInstances();
    console.log(JSON.stringify(result.figures));
    expect(result.failures).toEqual([]);
  }, 120_000);
});
