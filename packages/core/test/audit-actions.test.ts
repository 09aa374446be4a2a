import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { auditActions, defineAuditActions, isByokError } from '@byok/core';
import { AuditService } from '@byok/core/audit';
import { createStore } from '@byok/core/store';
import { allowListAuditMetadata } from '../src/audit/audit-actions';
import { isSecretName } from '../src/util/sanitize';

const SDK_ACTIONS = [
  'user.created',
  'user.updated',
  'user.deleted',
  'user.exported',
  'user.data_deleted',
  'preferences.updated',
  'auth.login.succeeded',
  'auth.login.failed',
  'auth.refresh',
  'auth.refresh.reused',
  'auth.logout',
  'auth.logout_all',
  'auth.session.revoked',
  'auth.identity.linked',
  'auth.keys.rotated',
  'auth.keys.revoked',
  'key.set',
  'key.tested',
  'key.removed',
  'key.use_refused',
  'kms.rewrapped',
  'chat.session.deleted',
  'chat.message.deleted',
  'chat.retention.purged',
];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isByokError(e) ? e.code : 'not-a-byok-error';
  }
  return undefined;
}

describe('audit action allow-lists', () => {
  it('registers every action the SDK records, none allowing a secret-named key', () => {
    expect(Object.keys(auditActions).sort()).toEqual([...SDK_ACTIONS].sort());
    for (const schema of Object.values(auditActions)) {
      for (const key of Object.keys(schema.shape)) expect(isSecretName(key), key).toBe(false);
    }
  });

  it('strips unknown and secret keys, drops ill-typed values, masks secret-shaped text', () => {
    const out = allowListAuditMetadata(auditActions, 'key.set', {
      provider: 'gemini',
      last4: 'x9Qz',
      apiKey: 'AIzaSyA-1234567890abcdefghijklmnopqrstu',
      key: 'AIzaSyA-1234567890abcdefghijklmnopqrstu',
      plaintext: 'hunter2',
      status: 'bogus', // not one of valid | invalid | unverified
      replaced: 'yes', // not a boolean
      extra: { nested: true },
    });
    expect(out).toEqual({ provider: 'gemini', last4: 'x9Qz' });

    const login = allowListAuditMetadata(auditActions, 'auth.login.succeeded', {
      issuer: 'https://accounts.google.com?code=abc123secret',
      idToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2ln',
      refreshToken: 'byok_rt_abcdefghijklmnop',
      newUser: true,
    });
    expect(login).toEqual({ issuer: 'https://accounts.google.com?code=[redacted]', newUser: true });
    expect(JSON.stringify(login)).not.toMatch(/abc123secret|eyJ|byok_rt_/);
  });

  it('keeps nothing for an action without metadata and refuses an unknown action', () => {
    expect(allowListAuditMetadata(auditActions, 'key.removed', undefined)).toEqual({});
    expect(allowListAuditMetadata(auditActions, 'key.removed', { provider: 'openai', password: 'x' })).toEqual({ provider: 'openai' });
    expect(codeOf(() => allowListAuditMetadata(auditActions, 'key.stolen', {}))).toBe('config_invalid');
    expect(codeOf(() => allowListAuditMetadata(auditActions, 'toString', {}))).toBe('config_invalid');
  });

  it('lets hosts register actions, but never a secret key, a bad name or a built-in', async () => {
    const host = defineAuditActions({ 'billing.plan_changed': z.object({ to: z.enum(['free', 'pro']).optional() }) });
    expect(codeOf(() => defineAuditActions({ 'billing.card_added': z.object({ cardSecret: z.string() }) }))).toBe('config_invalid');
    expect(codeOf(() => defineAuditActions({ 'Billing Changed': z.object({}) }))).toBe('config_invalid');
    const store = await createStore({ database: { memory: true } });
    expect(codeOf(() => new AuditService({ store, actions: { 'key.set': z.object({ anything: z.string() }) } }))).toBe('config_invalid');

    const audit = new AuditService({ store, actions: host });
    const row = await audit.record({ actorUserId: null, action: 'billing.plan_changed', metadata: { to: 'pro', token: 't' } });
    expect(row.metadata).toBe('{"to":"pro"}');
    await expect(audit.record({ actorUserId: null, action: 'billing.unknown' })).rejects.toMatchObject({ code: 'config_invalid' });
  });
});
