import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isByokError, type ByokErrorCode, type KmsContext, type KmsDriver, type SealContext } from '@byok/core';
import { createSealer } from '@byok/core/kms';

/** The fault kinds a KMS stand-in can inject. */
export type KmsFaultKind = 'throttle' | 'timeout' | '5xx';

/** What a conformance run needs besides the driver. */
export interface KmsConformanceHarness {
  driver: KmsDriver;
  /** A driver of the same kind over other key material or another key; its wraps must not unwrap under `driver`. */
  foreignDriver?: KmsDriver;
  /** Makes the next `times` KMS calls fail with `kind` (stand-ins); enables the retry tests. */
  injectFaults?: (kind: KmsFaultKind, times: number) => void;
  /** Attempts the driver makes per call (default 4); injecting this many faults must exhaust it. */
  attempts?: number;
  /**
   * False for drivers whose KMS picks the key version at decrypt time (Cloud KMS): they
   * cannot refuse an unknown version locally (the KMS refuses it, and the version is
   * bound into the context). Default true: an unconfigured version is refused locally.
   */
  versionsKnownLocally?: boolean;
  /** KMS calls served so far (stand-ins' counters); enables the call-count tests. */
  calls?: () => number;
  close?: () => Promise<void>;
}

/** Options of {@link kmsConformance}. */
export interface KmsConformanceOptions {
  name: string;
  /** Builds the driver under test (a driver, or a harness with fault injection and counters). */
  makeDriver: () => KmsDriver | KmsConformanceHarness | Promise<KmsDriver | KmsConformanceHarness>;
}

/**
 * The executable contract of `KmsDriver`: every driver — byok's and third parties' —
 * must pass it. Registers a vitest `describe` block: wrap/unwrap round trip, context
 * binding, tamper detection, configured-keys-only, typed errors, and (when the harness
 * can inject faults) bounded retries followed by `kms_unavailable` with nothing returned.
 *
 * @example
 * import { randomBytes } from 'node:crypto';
 * import { localKms } from '@byok/core';
 * kmsConformance({ name: 'localKms', makeDriver: () => localKms({ keys: '1:' + randomBytes(32).toString('base64') }) });
 */
export function kmsConformance(options: KmsConformanceOptions): void {
  describe(`KmsDriver conformance: ${options.name}`, () => {
    let h: KmsConformanceHarness;

    beforeAll(async () => {
      const made = await options.makeDriver();
      h = isHarness(made) ? made : { driver: made };
    });

    afterAll(async () => {
      await h?.close?.();
      await h?.driver.close?.();
      await h?.foreignDriver?.close?.();
    });

    const context = (label: string): KmsContext => {
      const aad = Buffer.from(`\u0000\u0007header-${label}\u0000\u0003abc`, 'latin1');
      return { aad, encryptionContext: { purpose: 'conformance', recordId: label, aad: aad.toString('base64') } };
    };

    it('has a valid id and a primary key that selects itself', async () => {
      expect(h.driver.id).toMatch(/^[a-z0-9-]{1,32}$/);
      const primary = await h.driver.primaryKey();
      expect(typeof primary.keyId).toBe('string');
      expect(primary.keyId.length).toBeGreaterThan(0);
      expect(Number.isInteger(primary.version) && primary.version >= 0).toBe(true);
      expect(h.driver.selectKey(primary.keyId, primary.version)).toEqual(primary);
    });

    it('round-trips a data key through wrap and unwrap', async () => {
      const key = await h.driver.primaryKey();
      const dek = randomBytes(32);
      const ctx = context('round-trip');
      const wrapped = await h.driver.wrap(dek, key, ctx);
      expect(Buffer.from(wrapped).includes(dek)).toBe(false);
      const back = await h.driver.unwrap(wrapped, key, ctx);
      expect(Buffer.compare(back, dek)).toBe(0);
    });

    it('wraps the same key differently each time', async () => {
      const key = await h.driver.primaryKey();
      const dek = randomBytes(32);
      const a = await h.driver.wrap(dek, key, context('nonce'));
      const b = await h.driver.wrap(dek, key, context('nonce'));
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).not.toBe(0);
    });

    it('generates data keys when it offers generateDataKey', async () => {
      const key = await h.driver.primaryKey();
      if (h.driver.generateDataKey === undefined) {
        expect(typeof h.driver.wrap).toBe('function');
        return;
      }
      const ctx = context('generate');
      const generated = await h.driver.generateDataKey(key, ctx);
      expect(generated.plaintext.length).toBe(32);
      const back = await h.driver.unwrap(generated.wrapped, key, ctx);
      expect(Buffer.compare(back, generated.plaintext)).toBe(0);
    });

    it('refuses to unwrap under another context', async () => {
      const key = await h.driver.primaryKey();
      const wrapped = await h.driver.wrap(randomBytes(32), key, context('bound'));
      await expectCode(h.driver.unwrap(wrapped, key, context('other')), ['seal_invalid']);
    });

    it('refuses a tampered wrapped key', async () => {
      const key = await h.driver.primaryKey();
      const ctx = context('tamper');
      const wrapped = Buffer.from(await h.driver.wrap(randomBytes(32), key, ctx));
      for (const at of [0, wrapped.length >> 1, wrapped.length - 1]) {
        const bad = Buffer.from(wrapped);
        bad[at]! ^= 0x01;
        await expectCode(h.driver.unwrap(bad, key, ctx), ['seal_invalid', 'kms_key_unknown']);
      }
      await expectCode(h.driver.unwrap(wrapped.subarray(0, 8), key, ctx), ['seal_invalid', 'kms_key_unknown']);
    });

    it('selects only configured keys', async () => {
      const key = await h.driver.primaryKey();
      expectSyncCode(() => h.driver.selectKey(`${key.keyId}-not-configured`, key.version), 'kms_key_unknown');
      if (h.versionsKnownLocally !== false) expectSyncCode(() => h.driver.selectKey(key.keyId, 0xfffffffe), 'kms_key_unknown');
    });

    it('does not unwrap what another key wrapped', async () => {
      if (h.foreignDriver === undefined) return;
      const foreignKey = await h.foreignDriver.primaryKey();
      const ctx = context('foreign');
      const wrapped = await h.foreignDriver.wrap(randomBytes(32), foreignKey, ctx);
      const key = await h.driver.primaryKey();
      await expectCode(h.driver.unwrap(wrapped, key, ctx), ['seal_invalid', 'kms_key_unknown']);
    });

    it('seals and opens through the sealer, bound to the record', async () => {
      const sealer = createSealer({ kms: h.driver, cache: { maxEntries: 10 } });
      const ctx: SealContext = { purpose: 'provider_key', userId: 'user-1', provider: 'gemini', recordId: 'record-1' };
      const sealed = await sealer.seal('conformance-secret-value', ctx);
      const opened = await createSealer({ kms: h.driver, cache: false }).open(sealed, ctx);
      expect(opened.toString('utf8')).toBe('conformance-secret-value');
      await expectCode(createSealer({ kms: h.driver, cache: false }).open(sealed, { ...ctx, recordId: 'record-2' }), ['seal_invalid']);
      await expectCode(createSealer({ kms: h.driver, cache: false }).open(sealed, { ...ctx, userId: 'user-2' }), ['seal_invalid']);
    });

    it('counts one KMS call per seal and none for a cached open', async () => {
      if (h.calls === undefined) return;
      const sealer = createSealer({ kms: h.driver });
      const ctx: SealContext = { purpose: 'provider_key', userId: 'user-1', provider: 'gemini', recordId: 'record-count' };
      await sealer.primaryKey();
      const before = h.calls();
      const sealed = await sealer.seal('counted', ctx);
      expect(h.calls() - before).toBe(1);
      for (let i = 0; i < 5; i++) await sealer.open(sealed, ctx);
      expect(h.calls() - before).toBe(1);
      const cold = createSealer({ kms: h.driver });
      for (let i = 0; i < 5; i++) await cold.open(sealed, ctx);
      expect(h.calls() - before).toBe(2);
    });

    for (const kind of ['throttle', 'timeout', '5xx'] as const) {
      it(`retries past a transient ${kind}`, async () => {
        if (h.injectFaults === undefined) return;
        const key = await h.driver.primaryKey();
        const dek = randomBytes(32);
        const ctx = context(`retry-${kind}`);
        h.injectFaults(kind, 1);
        const wrapped = await h.driver.wrap(dek, key, ctx);
        h.injectFaults(kind, 1);
        const back = await h.driver.unwrap(wrapped, key, ctx);
        expect(Buffer.compare(back, dek)).toBe(0);
      });

      it(`fails with kms_unavailable and returns nothing under persistent ${kind}`, async () => {
        if (h.injectFaults === undefined) return;
        const attempts = h.attempts ?? 4;
        const key = await h.driver.primaryKey();
        h.injectFaults(kind, attempts);
        await expectCode(h.driver.wrap(randomBytes(32), key, context(`down-${kind}`)), ['kms_unavailable']);
        const sealer = createSealer({ kms: h.driver });
        await sealer.primaryKey();
        h.injectFaults(kind, attempts);
        let result: unknown = 'unset';
        const error = await sealer.seal('never-stored', { purpose: 'x', userId: 'u', recordId: `r-${kind}` }).then(
          (value) => {
            result = value;
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(result).toBe('unset');
        expect(isByokError(error) && error.code).toBe('kms_unavailable');
        expect(sealer.stats().seals).toBe(0);
        expect(String((error as Error).message)).not.toContain('never-stored');
        h.injectFaults(kind, 0);
      });
    }
  });
}

function isHarness(value: KmsDriver | KmsConformanceHarness): value is KmsConformanceHarness {
  return typeof value === 'object' && value !== null && 'driver' in value && typeof (value as KmsConformanceHarness).driver === 'object';
}

async function expectCode(promise: Promise<unknown>, codes: ByokErrorCode[]): Promise<void> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a ByokError (${codes.join(' | ')}), but the call succeeded`);
  expect(isByokError(outcome.error), `expected a ByokError, got ${String(outcome.error)}`).toBe(true);
  expect(codes).toContain((outcome.error as { code: ByokErrorCode }).code);
}

function expectSyncCode(fn: () => unknown, code: ByokErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(isByokError(thrown), `expected ByokError ${code}`).toBe(true);
  expect((thrown as { code: string }).code).toBe(code);
}
