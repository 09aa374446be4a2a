import { z } from 'zod';
import { defineOperation, type Operation } from '../http/operation';
import { keyStatusSchema, keyTestResultSchema, type KeyVault } from './key-vault';

const providerParam = z.object({ provider: z.string().min(1).max(32) });

/** The HTTP operations of the key vault. Keys go in; only statuses come out. */
export function keyVaultOperations(vault: KeyVault) {
  return [
    defineOperation({
      kind: 'json',
      name: 'providers.list',
      summary: 'The model providers this server accepts keys for',
      auth: 'none',
      input: z.object({}),
      output: z.object({ providers: z.array(z.string()) }),
      http: { method: 'GET', path: '/providers' },
      handler: async () => ({ providers: vault.providerIds() }),
    }),
    defineOperation({
      kind: 'json',
      name: 'keys.list',
      summary: 'Status of every stored key (provider, last 4, fingerprint, validation)',
      auth: 'required',
      input: z.object({}),
      output: z.object({ items: z.array(keyStatusSchema) }),
      http: { method: 'GET', path: '/keys' },
      handler: async ({ auth }) => ({ items: await vault.listStatuses(auth.userId) }),
    }),
    defineOperation({
      kind: 'json',
      name: 'keys.get',
      summary: 'Status of the stored key for one provider',
      auth: 'required',
      input: providerParam,
      output: keyStatusSchema,
      http: { method: 'GET', path: '/keys/:provider' },
      handler: ({ auth, input }) => vault.getStatus(auth.userId, input.provider),
    }),
    defineOperation({
      kind: 'json',
      name: 'keys.set',
      summary: 'Validate a key with the provider and store it sealed (write-only)',
      auth: 'required',
      rateLimit: 'key_set',
      input: providerParam.extend({ apiKey: z.string().min(1).max(1024) }).strict(),
      output: keyStatusSchema,
      http: { method: 'PUT', path: '/keys/:provider' },
      handler: ({ auth, input, meta }) => vault.setKey(auth.userId, input.provider, input.apiKey, meta),
    }),
    defineOperation({
      kind: 'json',
      name: 'keys.test',
      summary: 'Check the stored key, or a candidate key without storing it',
      auth: 'required',
      rateLimit: 'key_test',
      input: providerParam.extend({ apiKey: z.string().min(1).max(1024).optional() }).strict(),
      output: keyTestResultSchema,
      http: { method: 'POST', path: '/keys/:provider/test' },
      handler: ({ auth, input, meta }) => vault.testKey(auth.userId, input.provider, input.apiKey, meta),
    }),
    defineOperation({
      kind: 'empty',
      name: 'keys.remove',
      summary: 'Remove the stored key for one provider',
      auth: 'required',
      input: providerParam,
      http: { method: 'DELETE', path: '/keys/:provider' },
      handler: ({ auth, input, meta }) => vault.removeKey(auth.userId, input.provider, meta),
    }),
  ] satisfies Operation[];
}
