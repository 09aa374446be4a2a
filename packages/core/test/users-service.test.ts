import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, isByokError, type Byok } from '@byok/core';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';
import { z } from 'zod';

const ISSUER = 'https://accounts.example.test';

// The users and preferences services on every store byok ships.
describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('users on %s', (kind) => {
  let db: TestDatabase | undefined;
  let byok: Byok;
  const events: string[] = [];

  beforeAll(async () => {
    db = kind === 'memory' ? undefined : await createTestDatabase(kind);
    byok = await createByok({
      database: db ? db.config : { memory: true },
      users: { customSchema: z.object({ plan: z.enum(['free', 'pro']) }).strict() },
      hooks: { beforeUserCreate: (claims) => claims.subject !== 'banned' },
    });
    byok.events.on('user.created', ({ userId }) => void events.push(`created:${userId}`));
  });
  afterAll(async () => {
    await byok.close();
    await db?.drop();
  });

  const expectCode = async (promise: Promise<unknown>, code: string) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isByokError(error) && error.code).toBe(code);
  };

  it('creates a user once per (issuer, subject) and refreshes the profile at each sign-in', async () => {
    const first = await byok.users.findOrCreate({ issuer: ISSUER, subject: 'alice', email: 'alice@example.com', emailVerified: true, name: 'Alice' });
    expect(first.created).toBe(true);
    const again = await byok.users.findOrCreate({ issuer: ISSUER, subject: 'alice', email: 'alice@new.example', emailVerified: true, name: 'Alice B' });
    expect(again.created).toBe(false);
    expect(again.user.id).toBe(first.user.id);
    expect(again.user).toMatchObject({ email: 'alice@new.example', name: 'Alice B' });
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toContain(`created:${first.user.id}`);
  });

  it('never matches by email: another issuer asserting the same email is another user', async () => {
    const a = await byok.users.findOrCreate({ issuer: ISSUER, subject: 'bob', email: 'bob@example.com', emailVerified: true });
    const b = await byok.users.findOrCreate({ issuer: 'https://evil.example.test', subject: 'bob', email: 'bob@example.com', emailVerified: true });
    expect(b.user.id).not.toBe(a.user.id);
  });

  it('resolves concurrent first sign-ins of one identity to one user', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => byok.users.findOrCreate({ issuer: ISSUER, subject: 'racer', email: 'r@example.com' })));
    expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('lets the beforeUserCreate hook veto a sign-up', async () => {
    await expectCode(byok.users.findOrCreate({ issuer: ISSUER, subject: 'banned' }), 'hook_rejected');
  });

  it('validates the host-defined custom field and leaves the profile unchanged when invalid', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: ISSUER, subject: 'carol' });
    const updated = await byok.users.update(user.id, { name: 'Carol', custom: { plan: 'pro' } });
    expect(updated.custom).toEqual({ plan: 'pro' });
    await expectCode(byok.users.update(user.id, { custom: { plan: 'gold' } }), 'validation_failed');
    await expectCode(byok.users.update(user.id, { pictureUrl: 'javascript:alert(1)' }), 'validation_failed');
    expect((await byok.users.get(user.id)).custom).toEqual({ plan: 'pro' });
  });

  it('validates preferences: theme, BCP 47 language, IANA time zone', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: ISSUER, subject: 'dave' });
    expect(await byok.users.getPreferences(user.id)).toMatchObject({ theme: 'system', language: 'en', timezone: 'UTC' });
    const prefs = await byok.users.updatePreferences(user.id, { theme: 'dark', language: 'zh-hant-tw', timezone: 'Asia/Taipei' });
    expect(prefs).toMatchObject({ theme: 'dark', language: 'zh-Hant-TW', timezone: 'Asia/Taipei' });
    await expectCode(byok.users.updatePreferences(user.id, { theme: 'neon' as never }), 'validation_failed');
    await expectCode(byok.users.updatePreferences(user.id, { language: 'not a tag!' }), 'validation_failed');
    await expectCode(byok.users.updatePreferences(user.id, { timezone: 'Europe/Atlantis' }), 'validation_failed');
    expect(await byok.users.getPreferences(user.id)).toMatchObject({ theme: 'dark', language: 'zh-Hant-TW', timezone: 'Asia/Taipei' });
  });

  it('scopes everything by user id: one user’s calls never read or change another user’s real rows', async () => {
    const { user: erin } = await byok.users.findOrCreate({ issuer: ISSUER, subject: 'iso-erin', email: 'erin@example.com', name: 'Erin' });
    const { user: frank } = await byok.users.findOrCreate({ issuer: ISSUER, subject: 'iso-frank', email: 'frank@example.com', name: 'Frank' });
    await byok.users.updatePreferences(frank.id, { theme: 'dark', language: 'de', timezone: 'Europe/Berlin' });
    const frankBefore = await byok.users.get(frank.id);
    const frankPrefs = await byok.users.getPreferences(frank.id);

    expect(await byok.users.get(erin.id)).toMatchObject({ id: erin.id, name: 'Erin' });
    expect(await byok.users.getPreferences(erin.id)).toMatchObject({ theme: 'system', language: 'en', timezone: 'UTC' });
    expect(await byok.users.update(erin.id, { name: 'Erin E', custom: { plan: 'pro' } })).toMatchObject({ id: erin.id, name: 'Erin E' });
    await byok.users.updatePreferences(erin.id, { theme: 'light', language: 'pt-BR', timezone: 'America/Sao_Paulo' });
    await byok.users.delete(erin.id);

    expect(await byok.users.get(frank.id)).toEqual(frankBefore);
    expect(await byok.users.getPreferences(frank.id)).toEqual(frankPrefs);
    expect(frankPrefs).toMatchObject({ theme: 'dark', language: 'de', timezone: 'Europe/Berlin' });
    // the deleted user is gone for every call
    await expectCode(byok.users.get(erin.id), 'not_found');
    await expectCode(byok.users.update(erin.id, { name: 'x' }), 'not_found');
    await expectCode(byok.users.updatePreferences(erin.id, { theme: 'dark' }), 'not_found');
  });

  it('deletes a user with every row of theirs, keeping a verifiable audit trail that names no one', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: ISSUER, subject: 'erin', email: 'erin@example.com' }, { ip: '203.0.113.7', userAgent: 'Erin-Browser' });
    await byok.users.updatePreferences(user.id, { theme: 'light' }, { ip: '203.0.113.7', userAgent: 'Erin-Browser' });
    const trail = await byok.audit.list(user.id);
    expect(trail.items.map((i) => i.action)).toEqual(['preferences.updated', 'user.created']);
    expect(trail.items[0]!.ip).toBe('203.0.113.7');

    await byok.users.delete(user.id);
    await expectCode(byok.users.get(user.id), 'not_found');
    expect(await byok.store.users.findByIdentity(ISSUER, 'erin')).toBeUndefined();
    expect(await byok.store.preferences.get(user.id)).toBeUndefined();
    const after = await byok.audit.list(user.id);
    expect(after.items).toHaveLength(2);
    expect(after.items.every((i) => i.ip === null && i.userAgent === null)).toBe(true);
    expect(await byok.store.audit.hasSalt(user.id)).toBe(false);
    const report = await byok.audit.verify();
    expect(report.ok).toBe(true);
    await expectCode(byok.users.delete(user.id), 'not_found');
  });
});
