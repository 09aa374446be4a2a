import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, isByokError, type Byok } from '@byok/core';
import { preferencesPatch, timeZone } from '../src/users/preferences-schema';

// Zones real browsers report from Intl.DateTimeFormat().resolvedOptions().timeZone that
// Intl.supportedValuesOf('timeZone') leaves out (it lists canonical ICU names only).
const BROWSER_ZONES = ['Asia/Kolkata', 'Europe/Kyiv', 'US/Eastern', 'Etc/GMT+5', 'America/Argentina/Buenos_Aires', 'UTC', 'Etc/UTC'];

describe('timeZone', () => {
  it.each(BROWSER_ZONES)('accepts %s, as given', (zone) => {
    expect(timeZone.parse(zone)).toBe(zone);
  });

  it.each(['Europe/Atlantis', 'Mars/Olympus', '', 'Asia/Kolkata ', 'x'.repeat(65), 'Etc/GMT+99'])('rejects %j', (zone) => {
    expect(timeZone.safeParse(zone).success).toBe(false);
  });

  it('accepts only zones the runtime can format in', () => {
    const zone = timeZone.parse('Asia/Kolkata');
    expect(() => new Intl.DateTimeFormat('en-US', { timeZone: zone }).format(0)).not.toThrow();
    expect(preferencesPatch.parse({ timezone: 'Europe/Kyiv' })).toEqual({ timezone: 'Europe/Kyiv' });
  });
});

describe('users.updatePreferences with browser-reported zones', () => {
  let byok: Byok;
  beforeAll(async () => {
    byok = await createByok({ database: { memory: true } });
  });
  afterAll(() => byok.close());

  it('stores Asia/Kolkata, US/Eastern and Etc/GMT+5, and still refuses an unknown zone unchanged', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: 'https://issuer.test', subject: 'tz' });
    for (const zone of ['Asia/Kolkata', 'US/Eastern', 'Etc/GMT+5', 'Europe/Kyiv']) {
      expect((await byok.users.updatePreferences(user.id, { timezone: zone })).timezone).toBe(zone);
      expect((await byok.users.getPreferences(user.id)).timezone).toBe(zone);
    }
    const error = await byok.users.updatePreferences(user.id, { timezone: 'Europe/Atlantis' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isByokError(error) && error.code).toBe('validation_failed');
    expect((await byok.users.getPreferences(user.id)).timezone).toBe('Europe/Kyiv');
  });
});
