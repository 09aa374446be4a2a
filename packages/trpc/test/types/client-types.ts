// Compiled by tsc (test/router-types.test.ts): a tRPC client typed by `ByokRouter` sees the
// real input and output of every procedure, from core's operation registry.
import type { KeyStatus, KeyTestResult, UiMessageChunk } from '@byok/core';
import { createTRPCClient, httpBatchStreamLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { expectTypeOf } from 'vitest';
import { defineOperation, type ByokOperations, type OperationMapOf, type OperationTypes } from '@byok/core/http';
import { z } from 'zod';
import type { ApiKeyStatus, ByokErrorCode, ByokRouter } from './type-imports';

const client = createTRPCClient<ByokRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      true: httpSubscriptionLink({ url: 'http://127.0.0.1/trpc' }),
      false: httpBatchStreamLink({ url: 'http://127.0.0.1/trpc' }),
    }),
  ],
});

type Inputs = inferRouterInputs<ByokRouter>;
type Outputs = inferRouterOutputs<ByokRouter>;

export async function typedCalls(): Promise<void> {
  // The original backend's four procedures.
  expectTypeOf(await client.user.setApiKey.mutate({ apiKey: 'k' })).toEqualTypeOf<KeyStatus>();
  expectTypeOf(await client.user.testApiKey.mutate()).toEqualTypeOf<KeyTestResult>();
  expectTypeOf(await client.user.testApiKey.mutate({ apiKey: 'k', provider: 'gemini' })).toEqualTypeOf<KeyTestResult>();
  const status = await client.user.getApiKeyStatus.query();
  expectTypeOf(status).toEqualTypeOf<ApiKeyStatus>();
  if (status.hasKey) expectTypeOf(status.last4).toEqualTypeOf<string>();
  expectTypeOf(await client.user.removeApiKey.mutate()).toEqualTypeOf<undefined>();
  expectTypeOf(await client.chat.sessions.delete.mutate({ sessionId: 's' })).toEqualTypeOf<undefined>();

  // Generated from the registry: preferences, keys, chat sessions and messages.
  const prefs = await client.me.preferences.get.query();
  expectTypeOf(prefs.theme).toEqualTypeOf<'system' | 'light' | 'dark'>();
  expectTypeOf<Outputs['me']['preferences']['update']>().toEqualTypeOf<typeof prefs>();
  expectTypeOf<Exclude<Inputs['me']['preferences']['update'], void>>().toHaveProperty('theme');
  expectTypeOf((await client.keys.list.query()).items).toEqualTypeOf<KeyStatus[]>();
  const session = await client.chat.sessions.create.mutate({ provider: 'gemini', model: 'gemini-2.5-flash' });
  expectTypeOf(session.id).toEqualTypeOf<string>();
  const page = await client.chat.messages.list.query({ sessionId: session.id });
  expectTypeOf(page.items[0]!.role).toEqualTypeOf<'user' | 'assistant' | 'system' | 'tool'>();
  expectTypeOf(page.nextCursor).toEqualTypeOf<string | null>();

  // A chat turn streams its reply from a mutation; resume is a subscription of tracked events.
  const reply = await client.chat.messages.send.mutate({ sessionId: session.id, text: 'Hello' });
  for await (const event of reply) {
    expectTypeOf(event.id).toEqualTypeOf<string>();
    expectTypeOf(event.data).toEqualTypeOf<UiMessageChunk>();
  }
  client.chat.stream.resume.subscribe(
    { sessionId: session.id, lastEventId: 'run:3' },
    {
      onData(event) {
        expectTypeOf(event.id).toEqualTypeOf<string>();
        expectTypeOf(event.data).toEqualTypeOf<UiMessageChunk>();
      },
      onError(error) {
        expectTypeOf(error.data?.byokCode).toEqualTypeOf<ByokErrorCode | undefined>();
      },
    },
  );

  // Errors carry byok's code.
  try {
    await client.me.get.query();
  } catch (error) {
    if (error instanceof TRPCClientError) {
      const typed = error as TRPCClientError<ByokRouter>;
      expectTypeOf(typed.data?.byokCode).toEqualTypeOf<ByokErrorCode | undefined>();
    }
  }
}

export async function wrongCalls(): Promise<void> {
  // @ts-expect-error apiKey is required
  await client.user.setApiKey.mutate({});
  // @ts-expect-error apiKey is a string
  await client.user.setApiKey.mutate({ apiKey: 1 });
  // @ts-expect-error the answer is a status, never the key
  const key: string = (await client.user.setApiKey.mutate({ apiKey: 'k' })).apiKey;
  // @ts-expect-error a theme byok does not know
  await client.me.preferences.update.mutate({ theme: 'neon' });
  // @ts-expect-error a session id is required
  await client.chat.messages.send.mutate({ text: 'Hello' });
  // @ts-expect-error refresh sets cookies: it stays on byok's HTTP routes
  await client.auth.refresh.mutate({});
  // @ts-expect-error the OAuth redirect is an HTTP route
  await client.auth.login.query({ issuer: 'dev' });
  void key;
}

// A host's own operation, typed with OperationMapOf, is a procedure of the router too.
const ping = defineOperation({
  kind: 'json',
  name: 'host.ping',
  summary: 'A host operation',
  auth: 'none',
  input: z.object({}),
  output: z.object({ pong: z.literal(true) }),
  http: { method: 'GET', path: '/host/ping' },
  handler: async () => ({ pong: true as const }),
});
const hostClient = createTRPCClient<ByokRouter<ByokOperations & OperationMapOf<typeof ping>>>({ links: [httpBatchStreamLink({ url: 'http://127.0.0.1/trpc' })] });
// An operation map with names that are not literals keeps the literal ones typed.
const wideClient = createTRPCClient<ByokRouter<ByokOperations & { [name: string]: OperationTypes }>>({ links: [httpBatchStreamLink({ url: 'http://127.0.0.1/trpc' })] });

export async function hostOperations(): Promise<void> {
  expectTypeOf(await hostClient.host.ping.query()).toEqualTypeOf<{ pong: true }>();
  expectTypeOf((await hostClient.me.get.query()).id).toEqualTypeOf<string>();
  expectTypeOf((await wideClient.me.get.query()).id).toEqualTypeOf<string>();
  expectTypeOf((await wideClient.me.preferences.get.query()).theme).toEqualTypeOf<'system' | 'light' | 'dark'>();
}
