// Ids with a NUL character, found by the full fuzz run on PostgreSQL (text columns there
// refuse U+0000; SQLite stores it): each must be a typed 4xx on every adapter, not a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAnswer, fuzzOperations } from '../src/fuzz';
import { send, type SentRequest } from '../src/http-client';
import { selectTestBackends } from '@byok/testing';
import { ADAPTERS, startWorld, type World } from '../src/world';

// BYOK_TEST_DATABASES=sqlite leaves this file without tests, as every database loop of the repo.
describe.each(selectTestBackends(['postgres'] as const))('ids with a NUL character on %s', (database) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ database, logins: ['nul'] });
  });
  afterAll(async () => world?.close());

  it.each([
    ['chat.sessions.get', 'GET', '/chat/sessions/%00', { sessionId: '\u0000' }],
    ['keys.get', 'GET', '/keys/%00', { provider: '\u0000' }],
    ['chat.messages.get', 'GET', '/chat/sessions/{own}/messages/x%00', { sessionId: '{own}', messageId: 'x\u0000' }],
    ['chat.stop', 'POST', '/chat/sessions/%00/stop', { sessionId: '\u0000' }],
  ] as const)('%s with a NUL in an id answers a typed 4xx on every adapter', async (name, method, path, input) => {
    const user = world.users[0]!;
    const own = ((await (await fetch(`${world.hosts.express.base}/chat/sessions`, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'gemini', model: 'gemini-2.5-flash' }) })).json()) as { id: string }).id;
    const op = fuzzOperations(world).find((o) => o.name === name)!;
    const problems: string[] = [];
    for (const adapter of ADAPTERS) {
      const headers: Record<string, string> = { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' };
      const trpcInput = JSON.stringify(input).replace('{own}', own);
      const request: SentRequest =
        adapter === 'trpc'
          ? method === 'GET'
            ? { method, url: `${world.hosts.trpc.base}/${name}?input=${encodeURIComponent(trpcInput)}`, headers }
            : { method, url: `${world.hosts.trpc.base}/${name}`, headers, body: trpcInput }
          : { method, url: `${world.hosts[adapter].base}${path.replace('{own}', own)}`, headers, ...(method === 'POST' ? { body: '{}' } : {}) };
      const answer = await send(request, 15_000);
      const problem = checkAnswer(world, adapter, op, request, answer);
      if (problem) problems.push(`${adapter}: ${method} ${new URL(request.url).pathname}${new URL(request.url).search.slice(0, 80)} → ${problem}`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
