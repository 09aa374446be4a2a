import { isByokError, type KeyStatus } from '@byok/core';
import type { Operation } from '@byok/core/http';
import type { ApiKeyStatus } from './router-types';

/** The provider the original backend's single key belonged to. */
export const DEFAULT_API_KEY_PROVIDER = 'gemini';

/**
 * One of the original backend's `user.*ApiKey` procedures: which key vault operation it
 * runs, how its input becomes that operation's input, and how the answer comes back.
 */
export interface ApiKeyProcedure {
  name: 'setApiKey' | 'testApiKey' | 'getApiKeyStatus' | 'removeApiKey';
  type: 'query' | 'mutation';
  /** The key vault operation it runs. */
  operation: 'keys.set' | 'keys.test' | 'keys.get' | 'keys.remove';
  /** Fills in the default provider; anything that is not an object is left for core to refuse. */
  input(raw: unknown): unknown;
  /** Runs the operation and shapes its answer (most pass it through). */
  run(call: (input: unknown) => Promise<unknown>, input: unknown): Promise<unknown>;
}

const withProvider = (raw: unknown): unknown => {
  if (raw === undefined || raw === null) return { provider: DEFAULT_API_KEY_PROVIDER };
  if (typeof raw !== 'object' || Array.isArray(raw)) return raw;
  return { provider: DEFAULT_API_KEY_PROVIDER, ...(raw as Record<string, unknown>) };
};

const passThrough = (call: (input: unknown) => Promise<unknown>, input: unknown) => call(input);

/**
 * `user.setApiKey({ apiKey, provider? })`, `user.testApiKey({ apiKey?, provider? })`,
 * `user.getApiKeyStatus({ provider? }?)` and `user.removeApiKey({ provider? }?)`, as the
 * original NestJS backend's tRPC router named them (its users had one Gemini key, so the
 * provider defaults to `gemini`). Each runs the key vault's operation with its rate
 * limit, audit and validation; keys go in, only statuses come out.
 */
export const API_KEY_PROCEDURES: readonly ApiKeyProcedure[] = [
  { name: 'setApiKey', type: 'mutation', operation: 'keys.set', input: withProvider, run: passThrough },
  { name: 'testApiKey', type: 'mutation', operation: 'keys.test', input: withProvider, run: passThrough },
  {
    name: 'getApiKeyStatus',
    type: 'query',
    operation: 'keys.get',
    input: withProvider,
    // The original answered "no key" as a status, not as an error.
    run: async (call, input): Promise<ApiKeyStatus> => {
      try {
        return { hasKey: true, ...((await call(input)) as KeyStatus) };
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        if (isByokError(cause) && cause.code === 'key_missing') return { hasKey: false, provider: (input as { provider: string }).provider };
        throw error;
      }
    },
  },
  { name: 'removeApiKey', type: 'mutation', operation: 'keys.remove', input: withProvider, run: passThrough },
];

/** The key vault operation an alias needs, or undefined when this byok has none (no such operation registered). */
export function targetOperation(operations: readonly Operation[], procedure: ApiKeyProcedure): Operation | undefined {
  return operations.find((op) => op.name === procedure.operation);
}
