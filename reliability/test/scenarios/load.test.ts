import { describe, expect, it } from 'vitest';
import { runLoad } from '../../src/scenarios/load';

describe('load on PostgreSQL (reduced: 20 users for 10 s)', () => {
  it('has zero errors, stores every message, and keeps RSS flat', async () => {
    const result = await runLoad();
    console.log(JSON.stringify(result.figures));
    expect(result.failures).toEqual([]);
    expect(result.figures.turns).toBeGreaterThan(20);
    expect(result.figures.stopped).toBeGreaterThan(0);
    expect(result.figures.reconnected).toBeGreaterThan(0);
  }, 120_000);
});
