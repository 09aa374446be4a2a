import { initTRPC } from '@trpc/server';
import { byokErrorFormatter, createByokRouter, type ByokTrpcContext, type ByokTrpcHost } from '@byok/trpc';

/** The example's tRPC context: byok's (from `createByokContext`) and the host's own facts. */
export interface ExampleContext extends ByokTrpcContext {
  mode: 'offline' | 'google';
}

// The host's own tRPC instance; byok's error formatter makes every error carry `data.byokCode`.
const t = initTRPC.context<ExampleContext>().create({ errorFormatter: byokErrorFormatter });

/**
 * The example's tRPC router: the host's own procedures merged with byok's generated
 * router (auth sessions, keys and the original `user.*ApiKey` procedures, preferences,
 * chat), as a host application would do it.
 *
 * @example
 * const router = exampleRouter(byok);
 * type AppRouter = typeof router;
 */
export function exampleRouter(byok: ByokTrpcHost) {
  const host = t.router({
    example: t.router({
      /** Which mode the example runs in (offline stand-ins or Google and Gemini). */
      info: t.procedure.query(({ ctx }) => ({ mode: ctx.mode })),
    }),
  });
  return t.mergeRouters(host, createByokRouter(byok));
}

/** The type a tRPC client of the example is built from. */
export type AppRouter = ReturnType<typeof exampleRouter>;
