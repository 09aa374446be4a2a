// `database: { store }`: a host's own Store implementation plugged into createByok.
import { describe, expect, it } from 'vitest';
import { createByok, isByokError, localKms } from '@byok/core';
import { createStore, type Store } from '@byok/core/store';

describe('a host store', () => {
  it('is used as it is for every service, and closed with byok', async () => {
    const inner = await createStore({ database: { memory: true } });
    let closed = 0;
    let transactions = 0;
    // A host's store: here the memory store behind a wrapper that counts what byok does.
    const store: Store = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'close') return async () => void (closed += 1);
        if (prop === 'transaction') return (fn: (tx: Store) => Promise<unknown>, o?: { retries?: number }) => ((transactions += 1), target.transaction(fn, o));
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const byok = await createByok({ database: { store }, kms: localKms({ keys: `1:${Buffer.alloc(32, 5).toString('base64')}` }) });
    const { user } = await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'host-store' });
    expect((await inner.users.get(user.id))?.id).toBe(user.id);
    expect(transactions).toBeGreaterThan(0);
    expect(byok.store).toBe(store);
    await byok.close();
    expect(closed).toBe(1);
  });

  it('refuses something that is not a store as config_invalid', async () => {
    for (const store of [null, {}, { dialect: 'memory', users: {} }]) {
      const error = await createByok({ database: { store: store as never } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isByokError(error) && error.code, JSON.stringify(store)).toBe('config_invalid');
    }
  });
});
