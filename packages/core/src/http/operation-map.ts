import type { z } from 'zod';
import type { auditOperations } from '../audit/audit-operations';
import type { authOperations } from '../auth/auth-operations';
import type { chatOperations } from '../chat/chat-operations';
import type { usersOperations } from '../users/users-operations';
import type { keyVaultOperations } from '../vault/key-vault-operations';
import type { AuthRequirement, HttpMethod } from './operation';
import type { openApiOperations } from './openapi-operations';

/**
 * What a caller of one operation sees over HTTP: its binding, what it takes (the input
 * schema's `z.input`, so defaults stay optional) and what it answers (the output schema's
 * `z.output` for a JSON operation, nothing for an empty one, `unknown` for a raw one).
 */
export interface OperationTypes<
  Kind extends 'json' | 'empty' | 'raw' = 'json' | 'empty' | 'raw',
  Method extends HttpMethod = HttpMethod,
  Path extends string = string,
  Auth extends AuthRequirement = AuthRequirement,
  Input = unknown,
  Output = unknown,
> {
  kind: Kind;
  method: Method;
  path: Path;
  auth: Auth;
  input: Input;
  output: Output;
  /** What a raw operation answers with (a redirect, an event stream, a document). */
  produces?: string;
}

/** The `OperationTypes` of one operation returned by `defineOperation`. */
export type OperationTypesOf<Op> = Op extends {
  kind: infer Kind extends 'json' | 'empty' | 'raw';
  auth: infer Auth extends AuthRequirement;
  http: { method: infer Method extends HttpMethod; path: infer Path extends string };
  input: infer In extends z.ZodType;
}
  ? OperationTypes<
      Kind,
      Method,
      Path,
      Auth,
      z.input<In>,
      Op extends { kind: 'json'; output: infer Out extends z.ZodType } ? z.output<Out> : Op extends { kind: 'empty' } ? void : unknown
    > &
      (Op extends { kind: 'raw'; produces: infer P extends string } ? { produces: P } : unknown)
  : never;

/**
 * A map from operation name to its `OperationTypes`, for a union of operations declared
 * with `defineOperation` (a host's own operations included).
 *
 * @example
 * import { z } from 'zod';
 * import { defineOperation, type ByokOperations, type OperationMapOf } from '@byok/core/http';
 * const whoAmI = defineOperation({
 *   kind: 'json', name: 'me.id', summary: 'The signed-in user id', auth: 'required',
 *   input: z.object({}), output: z.object({ userId: z.string() }),
 *   http: { method: 'GET', path: '/me/id' },
 *   handler: async ({ auth }) => ({ userId: auth.userId }),
 * });
 * type HostOperations = ByokOperations & OperationMapOf<typeof whoAmI>;
 */
export type OperationMapOf<Ops extends { name: string }> = { [Op in Ops as Op['name']]: OperationTypesOf<Op> };

type OperationsOf<Factory extends (...args: never[]) => readonly unknown[]> = ReturnType<Factory>[number];

/**
 * Every operation byok serves, by name: the types `@byok/client` is built from. Type only:
 * importing it (`import type`) adds nothing to a bundle.
 */
export type ByokOperations = OperationMapOf<
  | OperationsOf<typeof authOperations>
  | OperationsOf<typeof usersOperations>
  | OperationsOf<typeof keyVaultOperations>
  | OperationsOf<typeof auditOperations>
  | OperationsOf<typeof chatOperations>
  | OperationsOf<typeof openApiOperations>
>;
