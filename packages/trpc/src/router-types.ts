import type { KeyStatus, KeyTestResult, UiMessageChunk } from '@byok/core';
import type { ByokOperations, OperationTypes } from '@byok/core/http';
import type { AnyTRPCProcedure, TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure, TRPCSubscriptionProcedure } from '@trpc/server';
import type { ByokTrpcContext } from './byok-context';
import type { ByokErrorShape } from './byok-error-formatter';

/**
 * Operations that stay on byok's HTTP routes: they set or clear the session cookies, and
 * a tRPC response (batched, or streamed before its calls finish) cannot carry them. A
 * refresh whose new cookies were lost would sign the user out. Raw operations other than
 * event streams (the OAuth redirects, the JWKS, `/openapi.json`, Markdown export) are
 * HTTP documents and stay there too.
 */
export const HTTP_ONLY_OPERATIONS = ['auth.link', 'auth.refresh', 'auth.logout', 'auth.logout_all'] as const;
export type HttpOnlyOperationName = (typeof HTTP_ONLY_OPERATIONS)[number];

/**
 * One chunk of a streamed chat reply (the AI SDK's UI message stream chunk) with its
 * position id `<runId>:<position>:<offset>`: what `chat.messages.send` yields, and what the
 * `chat.stream.resume` subscription delivers (as a `tracked()` event). Resume with the
 * last `id` seen as `lastEventId` to get exactly the rest.
 */
export interface ByokChatStreamEvent {
  id: string;
  data: UiMessageChunk;
}

/** The root types of byok's router, as a tRPC client infers them. */
export interface ByokRouterRoot {
  ctx: ByokTrpcContext;
  meta: object;
  errorShape: ByokErrorShape;
  transformer: false;
}

/** The resume subscription's extra input: the last event id seen (tRPC's `httpSubscriptionLink` fills it in on reconnect). */
export interface ResumeInput {
  lastEventId?: string | null | undefined;
}

/** An input with no required field may be left out by the caller. */
type OptionalWhenEmpty<In> = {} extends In ? In | void : In;

/** An operation that answers with no body answers `undefined` over tRPC (a `void` output would serialize to `never`). */
type Answer<Out> = [Out] extends [void] ? undefined : Out;

type Def<In, Out> = { input: In; output: Answer<Out>; meta: object; errorShape: ByokErrorShape };

/** The tRPC procedure generated for one operation (never for HTTP-only ones). */
export type ProcedureOf<Op> =
  Op extends OperationTypes<infer Kind, infer Method, string, any, infer In, infer Out>
    ? Kind extends 'raw'
      ? Op extends { produces: 'event-stream' }
        ? Method extends 'GET'
          ? TRPCSubscriptionProcedure<Def<In & ResumeInput, AsyncIterable<ByokChatStreamEvent, void, any>>>
          : TRPCMutationProcedure<Def<In, AsyncIterable<ByokChatStreamEvent, void, any>>>
        : never
      : Method extends 'GET'
        ? TRPCQueryProcedure<Def<OptionalWhenEmpty<In>, Out>>
        : TRPCMutationProcedure<Def<OptionalWhenEmpty<In>, Out>>
    : never;

type PathRecord<Name extends string, Value> = Name extends `${infer Head}.${infer Rest}` ? { [K in Head]: PathRecord<Rest, Value> } : { [K in Name]: Value };

type UnionToIntersection<U> = (U extends unknown ? (value: U) => void : never) extends (value: infer I) => void ? I : never;

/** Merges the intersection of nested records into one nested record (procedures kept as they are). */
type DeepMerge<T> = T extends AnyTRPCProcedure ? T : { [K in keyof T]: DeepMerge<T[K]> };

/**
 * The literal operation names of a map. A name that is not a literal (an index signature,
 * an operation declared without `defineOperation`) cannot be placed at a path: it is
 * left out rather than turned into an index signature over every path.
 */
type LiteralNames<Ops> = keyof { [K in keyof Ops as string extends K ? never : K extends string ? K : never]: 0 } & string;

type GeneratedRecord<Ops> = UnionToIntersection<
  {
    [Name in Exclude<LiteralNames<Ops>, HttpOnlyOperationName>]: [ProcedureOf<Ops[Name]>] extends [never] ? never : PathRecord<Name, ProcedureOf<Ops[Name]>>;
  }[Exclude<LiteralNames<Ops>, HttpOnlyOperationName>]
>;

/** Which provider a `user.*ApiKey` procedure is about; the original backend's single key was Gemini's. */
export interface ApiKeyProviderInput {
  /** A provider id of the key vault; default `gemini`. */
  provider?: string | undefined;
}

/** Input of `user.setApiKey`: the key to validate with the provider and store sealed. */
export interface SetApiKeyInput extends ApiKeyProviderInput {
  apiKey: string;
}

/** Input of `user.testApiKey`: a candidate key, or none to test the stored one. */
export interface TestApiKeyInput extends ApiKeyProviderInput {
  apiKey?: string | undefined;
}

/** What `user.getApiKeyStatus` answers: whether a key is stored, and its status if so (never the key). */
export type ApiKeyStatus = ({ hasKey: true } & KeyStatus) | { hasKey: false; provider: string };

/** The original backend's four key procedures, mapped onto the key vault's operations. */
export interface ApiKeyRecord {
  user: {
    setApiKey: TRPCMutationProcedure<Def<SetApiKeyInput, KeyStatus>>;
    testApiKey: TRPCMutationProcedure<Def<TestApiKeyInput | void, KeyTestResult>>;
    getApiKeyStatus: TRPCQueryProcedure<Def<ApiKeyProviderInput | void, ApiKeyStatus>>;
    removeApiKey: TRPCMutationProcedure<Def<ApiKeyProviderInput | void, void>>;
  };
}

/** The procedures of byok's router by path, from an operation map (byok's own by default). */
export type ByokRouterRecord<Ops = ByokOperations> = DeepMerge<GeneratedRecord<Ops> & ApiKeyRecord>;

/** The type of the router {@link createByokRouter} builds: what a tRPC client is typed from. */
export type ByokRouter<Ops = ByokOperations> = TRPCBuiltRouter<ByokRouterRoot, ByokRouterRecord<Ops>>;
