import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isByokError } from '@byok/core';
import {
  uuidv7,
  type OAuthTokenRow,
  type ProviderKeyRow,
  type SealedRecord,
  type SealedTable,
  type Store,
  type UserRow,
} from '@byok/core/store';

const T0 = 1_764_000_000_000;

/**
 * The vault's part of the Store contract: users' sealed provider keys (one per user and
 * provider, every call scoped by user id) and the system-wide sealed-records view the
 * rewrap job uses (paging, compare-and-set, counts per KEK). Isolation is checked with a
 * second user's real row, never an unknown id. `storeConformance()` runs it.
 *
 * @example
 * describe('vault', () => vaultStoreCases(() => store));
 */
export function vaultStoreCases(store: () => Store): void {
  describe('provider keys', () => {
    it('round-trips a key exactly, one per user and provider, and replace names the row it replaced', async () => {
      const user = await newUser(store());
      const first = keyRow(user.id, 'gemini');
      expect(await store().providerKeys.replace(first)).toBeNull();
      expect(await store().providerKeys.get(user.id, 'gemini')).toEqual(first);
      const second = keyRow(user.id, 'gemini', { status: 'unverified', statusReason: 'provider unavailable (503)', validatedAt: null });
      expect(await store().providerKeys.replace(second)).toBe(first.id);
      expect(await store().providerKeys.get(user.id, 'gemini')).toEqual(second);
      const openai = keyRow(user.id, 'openai');
      expect(await store().providerKeys.replace(openai)).toBeNull();
      expect(await store().providerKeys.list(user.id)).toEqual([second, openai]);
      expect(await store().providerKeys.get(user.id, 'anthropic')).toBeUndefined();
    });

    it('refuses a key for a user that does not exist, storing nothing', async () => {
      const ghost = uuidv7();
      const error = await store().providerKeys.replace(keyRow(ghost, 'gemini')).then(() => null, (e: unknown) => e);
      expect(isByokError(error) && error.code).toBe('not_found');
      expect(await store().providerKeys.list(ghost)).toEqual([]);
    });

    it('records a validation only on the user’s current row', async () => {
      const user = await newUser(store());
      const old = keyRow(user.id, 'gemini', { status: 'unverified', validatedAt: null });
      await store().providerKeys.replace(old);
      const patch = { status: 'valid' as const, statusReason: null, validatedAt: T0 + 50, updatedAt: T0 + 50 };
      expect(await store().providerKeys.setStatus(user.id, old.id, patch)).toBe(true);
      expect(await store().providerKeys.get(user.id, 'gemini')).toEqual({ ...old, ...patch });
      const current = keyRow(user.id, 'gemini');
      await store().providerKeys.replace(current);
      // a test that finished after the key was replaced must not mark the new key
      expect(await store().providerKeys.setStatus(user.id, old.id, { ...patch, status: 'invalid', statusReason: 'API key not valid' })).toBe(false);
      expect(await store().providerKeys.get(user.id, 'gemini')).toEqual(current);
    });

    it("never lets user B's id reach A's real row: get, list, set status, delete and compare-and-set all refuse", async () => {
      const a = await newUser(store());
      const b = await newUser(store());
      const aKey = keyRow(a.id, 'openai');
      const aGemini = keyRow(a.id, 'gemini');
      const bKey = keyRow(b.id, 'gemini');
      for (const row of [aKey, aGemini, bKey]) await store().providerKeys.replace(row);

      expect(await store().providerKeys.get(b.id, 'openai')).toBeUndefined();
      expect(await store().providerKeys.list(b.id)).toEqual([bKey]);
      const patch = { status: 'invalid' as const, statusReason: 'forged', validatedAt: T0 + 9, updatedAt: T0 + 9 };
      expect(await store().providerKeys.setStatus(b.id, aKey.id, patch)).toBe(false);
      expect(await store().providerKeys.setStatus(b.id, aGemini.id, patch)).toBe(false);
      expect(await store().providerKeys.delete(b.id, 'openai')).toBeNull();
      // B knows only B's own sealed value: it cannot be swapped into A's row
      expect(await store().sealedRecords.compareAndSet('provider_keys', aKey.id, bKey.sealed, { sealed: bKey.sealed, kek: bKey.kek })).toBe(false);
      // B's own key for the provider A also has replaces B's row, never A's
      expect(await store().providerKeys.delete(b.id, 'gemini')).toBe(bKey.id);
      const bOpenai = keyRow(b.id, 'openai');
      expect(await store().providerKeys.replace(bOpenai)).toBeNull();

      expect(await store().providerKeys.list(a.id)).toEqual([aGemini, aKey]);
      expect(await store().providerKeys.list(b.id)).toEqual([bOpenai]);
    });

    it('deletes only the user’s own key, and every key with the user', async () => {
      const user = await newUser(store());
      const bystander = await newUser(store());
      const own = keyRow(user.id, 'gemini');
      const theirs = keyRow(bystander.id, 'gemini');
      await store().providerKeys.replace(own);
      await store().providerKeys.replace(theirs);
      await store().providerKeys.replace(keyRow(user.id, 'openai'));
      expect(await store().providerKeys.delete(user.id, 'gemini')).toBe(own.id);
      expect(await store().providerKeys.delete(user.id, 'gemini')).toBeNull();
      expect(await store().users.delete(user.id)).toBe(true);
      expect(await store().providerKeys.list(user.id)).toEqual([]);
      expect(await store().providerKeys.get(bystander.id, 'gemini')).toEqual(theirs);
    });
  });

  describe('sealed records', () => {
    it('pages every sealed column in id order, skipping the excluded KEK and empty columns', async () => {
      const kek = `local:k-${uuidv7()}:1`;
      const primary = `local:k-${uuidv7()}:2`;
      const a = await newUser(store());
      const b = await newUser(store());
      const keys = [keyRow(a.id, 'gemini', { kek }), keyRow(b.id, 'gemini', { kek }), keyRow(a.id, 'openai', { kek: primary })];
      for (const row of keys) await store().providerKeys.replace(row);
      const token = tokenRow(a.id, { refreshTokenSealed: null });
      await store().oauthTokens.put(token);
      const signingKey = { id: uuidv7(), alg: 'EdDSA', publicJwk: '{"kty":"OKP"}', privateSealed: sealedText(), createdAt: T0, notBefore: T0, retiredAt: null };
      await store().signingKeys.insert(signingKey);

      const mine = new Set([...keys.map((k) => k.id), token.id, signingKey.id]);
      const all = async (table: SealedTable, excludeKek: string) => (await pageAll(store(), table, excludeKek)).filter((r) => mine.has(r.id));
      const record = (k: ProviderKeyRow): SealedRecord => ({ id: k.id, userId: k.userId, scope: k.provider, sealed: k.sealed, kek: k.kek });
      expect(await all('provider_keys', primary)).toEqual([record(keys[0]!), record(keys[1]!)]);
      expect(await all('provider_keys', kek)).toEqual([record(keys[2]!)]);
      expect(await all('oauth_access_tokens', primary)).toEqual([{ id: token.id, userId: a.id, scope: '', sealed: token.accessTokenSealed, kek: '' }]);
      expect(await all('oauth_refresh_tokens', primary)).toEqual([]);
      expect(await all('signing_keys', primary)).toEqual([{ id: signingKey.id, userId: '', scope: '', sealed: signingKey.privateSealed, kek: '' }]);

      const counts = (await store().sealedRecords.countByKek()).filter((c) => c.kek === kek || c.kek === primary);
      expect(counts.sort((x, y) => (x.kek < y.kek ? -1 : 1))).toEqual([
        { table: 'provider_keys', kek, count: 2 },
        { table: 'provider_keys', kek: primary, count: 1 },
      ]);
      await store().signingKeys.delete(signingKey.id);
    });

    it('compare-and-set swaps a value only while it is still the expected one; a stale one returns false', async () => {
      const user = await newUser(store());
      const row = keyRow(user.id, 'gemini');
      await store().providerKeys.replace(row);
      const rewrapped = { sealed: sealedText(), kek: 'local:master:2' };
      expect(await store().sealedRecords.compareAndSet('provider_keys', row.id, row.sealed, rewrapped)).toBe(true);
      expect(await store().providerKeys.get(user.id, 'gemini')).toEqual({ ...row, ...rewrapped });
      // the same rewrap again, or a rewrap racing a setKey that replaced the row: nothing changes
      expect(await store().sealedRecords.compareAndSet('provider_keys', row.id, row.sealed, { sealed: sealedText(), kek: 'local:master:3' })).toBe(false);
      const replaced = keyRow(user.id, 'gemini');
      await store().providerKeys.replace(replaced);
      expect(await store().sealedRecords.compareAndSet('provider_keys', row.id, rewrapped.sealed, { sealed: sealedText(), kek: 'local:master:3' })).toBe(false);
      expect(await store().sealedRecords.compareAndSet('provider_keys', replaced.id, row.sealed, { sealed: sealedText(), kek: 'local:master:3' })).toBe(false);
      expect(await store().providerKeys.get(user.id, 'gemini')).toEqual(replaced);
    });

    it('compare-and-set on OAuth tokens and signing keys: right column only, stale and empty refused', async () => {
      const a = await newUser(store());
      const b = await newUser(store());
      const aToken = tokenRow(a.id, { refreshTokenSealed: null });
      const bToken = tokenRow(b.id);
      await store().oauthTokens.put(aToken);
      await store().oauthTokens.put(bToken);
      const next = { sealed: sealedText(), kek: '' };

      // another user's real row: B's sealed values do not match A's row
      expect(await store().sealedRecords.compareAndSet('oauth_access_tokens', aToken.id, bToken.accessTokenSealed!, next)).toBe(false);
      // an empty column never matches, and an id only exists in its own table
      expect(await store().sealedRecords.compareAndSet('oauth_refresh_tokens', aToken.id, '', next)).toBe(false);
      expect(await store().sealedRecords.compareAndSet('provider_keys', aToken.id, aToken.accessTokenSealed!, next)).toBe(false);
      expect(await store().sealedRecords.compareAndSet('signing_keys', aToken.id, aToken.accessTokenSealed!, next)).toBe(false);
      expect(await store().oauthTokens.get(a.id, aToken.issuer)).toEqual(aToken);

      expect(await store().sealedRecords.compareAndSet('oauth_access_tokens', aToken.id, aToken.accessTokenSealed!, next)).toBe(true);
      expect(await store().sealedRecords.compareAndSet('oauth_access_tokens', aToken.id, aToken.accessTokenSealed!, { sealed: sealedText(), kek: '' })).toBe(false);
      expect(await store().oauthTokens.get(a.id, aToken.issuer)).toEqual({ ...aToken, accessTokenSealed: next.sealed });
      expect(await store().sealedRecords.compareAndSet('oauth_refresh_tokens', bToken.id, bToken.refreshTokenSealed!, next)).toBe(true);
      expect(await store().oauthTokens.get(b.id, bToken.issuer)).toEqual({ ...bToken, refreshTokenSealed: next.sealed });

      const signingKey = { id: uuidv7(), alg: 'EdDSA', publicJwk: '{"kty":"OKP"}', privateSealed: sealedText(), createdAt: T0, notBefore: T0, retiredAt: null };
      await store().signingKeys.insert(signingKey);
      expect(await store().sealedRecords.compareAndSet('signing_keys', signingKey.id, next.sealed, next)).toBe(false);
      expect(await store().sealedRecords.compareAndSet('signing_keys', signingKey.id, signingKey.privateSealed, next)).toBe(true);
      expect((await store().signingKeys.list()).find((k) => k.id === signingKey.id)).toEqual({ ...signingKey, privateSealed: next.sealed });
      await store().signingKeys.delete(signingKey.id);
    });
  });
}

// ------------------------------------------------------------------ fixtures

let counter = 0;

async function newUser(store: Store): Promise<UserRow> {
  const id = uuidv7();
  const user: UserRow = { id, email: null, emailVerified: false, name: null, pictureUrl: null, custom: null, createdAt: T0, updatedAt: T0 };
  await store.users.createWithIdentity(user, {
    id: uuidv7(),
    userId: id,
    issuer: 'https://accounts.example.com',
    subject: `vault-${id}`,
    email: null,
    emailVerified: false,
    createdAt: T0,
    lastLoginAt: T0,
  });
  return user;
}

/** Stands in for a sealed envelope: the store keeps the exact base64url text. */
function sealedText(): string {
  return randomBytes(96).toString('base64url');
}

function keyRow(userId: string, provider: string, overrides: Partial<ProviderKeyRow> = {}): ProviderKeyRow {
  counter++;
  return {
    id: uuidv7(),
    userId,
    provider,
    sealed: sealedText(),
    kek: 'local:master:1',
    last4: String(1000 + (counter % 9000)),
    fingerprint: randomBytes(8).toString('hex'),
    status: 'valid',
    statusReason: null,
    validatedAt: T0 + counter,
    createdAt: T0 + counter,
    updatedAt: T0 + counter,
    ...overrides,
  };
}

function tokenRow(userId: string, overrides: Partial<OAuthTokenRow> = {}): OAuthTokenRow {
  return {
    id: uuidv7(),
    userId,
    issuer: `https://issuer-${uuidv7()}.example`,
    accessTokenSealed: sealedText(),
    refreshTokenSealed: sealedText(),
    expiresAt: T0 + 3_600_000,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

/** Every record of a table outside `excludeKek`, paged two at a time from the start. */
async function pageAll(store: Store, table: SealedTable, excludeKek: string): Promise<SealedRecord[]> {
  const out: SealedRecord[] = [];
  let afterId = '';
  for (;;) {
    const page = await store.sealedRecords.page(table, { excludeKek, afterId, limit: 2 });
    out.push(...page);
    if (page.length < 2) return out;
    afterId = page[page.length - 1]!.id;
  }
}
