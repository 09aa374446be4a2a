// Issue 11.6, faults: a byok server on PostgreSQL and Redis, each reached through a TCP
// proxy of ours (so a "restart" is every connection dropped and new ones refused, then
// back, without touching the real servers), with AWS KMS on its stand-in (throttling and
// timeouts injected) and providers on their stand-ins (connections dropped mid-stream,
// 429 with Retry-After, Anthropic's 529). Each fault must give a typed error, with a retry
// hint where retrying helps; nothing stored may be lost; service must resume by itself.
import { randomBytes } from 'node:crypto';
import { startAnthropicStandIn, startAwsKmsStandIn, type LlmStandIn, type AwsKmsStandIn } from '@byok/testing';
import {
  api,
  clearRedisPrefix,
  geminiKey,
  handedOut,
  listMessages,
  newSession,
  scanScenario,
  sendChat,
  signIn,
  sleep,
  spawnServer,
  startStage,
  startTcpProxy,
  stepLog,
  until,
  type ScenarioResult,
  type ServerProcess,
  type StreamRead,
  type TcpProxy,
  type User,
} from './support';
import type { ServerConfig } from './server-app';

interface Outcome {
  status: number;
  code: string | undefined;
  retryAfter: string | null | undefined;
  retryAfterMs: unknown;
}

const outcomeOf = (r: { status: number; body: any; headers: Headers }): Outcome => ({
  status: r.status,
  code: r.body?.error?.code,
  retryAfter: r.headers.get('retry-after'),
  retryAfterMs: r.body?.error?.details?.retryAfterMs,
});
const describeOutcome = (o: Outcome) => `${o.status} ${o.code ?? '(no code)'}${o.retryAfter ? ` Retry-After ${o.retryAfter}` : ''}`;

export async function runFaults(): Promise<ScenarioResult> {
  const failures: string[] = [];
  const figures: Record<string, number | string> = {};
  const log = stepLog('faults');
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
    return ok;
  };
  const stage = await startStage({ serverCount: 1, chunks: 10, chunkDelayMs: 20 });
  const keyPrefix = `byok-rel:${randomBytes(6).toString('hex')}:`;
  let kms: AwsKmsStandIn | null = null;
  let claude: LlmStandIn | null = null;
  let pg: TcpProxy | null = null;
  let redisProxy: TcpProxy | null = null;
  let server: ServerProcess | null = null;
  try {
    kms = await startAwsKmsStandIn();
    claude = await startAnthropicStandIn({ keys: [], acceptKey: (k) => k.startsWith('sk-ant-rel'), chunks: 6, chunkDelayMs: 20 });
    const pgUrl = new URL(stage.config(0).postgres);
    pg = await startTcpProxy(Number(pgUrl.port || 5432));
    pgUrl.port = String(pg.port);
    redisProxy = await startTcpProxy(6379);
    // The server runs in its own process: a fault that kills it must not take the run with it.
    const config: ServerConfig = stage.config(stage.ports[0]!, {
      postgres: pgUrl.toString(),
      anthropicUrl: claude.url,
      redis: { host: '127.0.0.1', port: redisProxy.port, keyPrefix },
      // Longer than the database is away (about 2 s): a reply that ends meanwhile is stored when it returns.
      leaseMs: 5_000,
      awsKms: { endpoint: kms.endpoint, region: kms.region, keyId: kms.alias },
      noDekCache: true,
    });
    server = await spawnServer(config);
    let base = server.base;
    const users: User[] = [];
    const user = async (login: string) => {
      const u = await signIn(stage.issuer, base, login);
      users.push(u);
      return u;
    };
    const put = (u: User, provider: string, apiKey: string) => api(base, u, 'PUT', `/keys/${provider}`, { apiKey });

    // KMS throttling and timeouts.
    const k1 = await user('kms-1');
    kms.injectFaults({ kind: 'throttle', times: 2 });
    let t = Date.now();
    const throttledOnce = await put(k1, 'gemini', geminiKey('kms-1'));
    figures.kmsThrottledTwice = `${describeOutcome(outcomeOf(throttledOnce))} in ${Date.now() - t} ms (retried inside byok)`;
    check(throttledOnce.status === 200, `a key stored through 2 KMS throttles answered ${throttledOnce.status}`);
    const k2 = await user('kms-2');
    kms.injectFaults({ kind: 'throttle', times: 1_000 });
    t = Date.now();
    const throttled = outcomeOf(await put(k2, 'gemini', geminiKey('kms-2')));
    figures.kmsThrottledThrough = `${describeOutcome(throttled)} in ${Date.now() - t} ms`;
    check(throttled.status === 503 && throttled.code === 'kms_unavailable', `a KMS that keeps throttling gave ${describeOutcome(throttled)}`);
    kms.clearFaults();
    kms.injectFaults({ kind: 'timeout', times: 1_000, delayMs: 2_000 });
    t = Date.now();
    const timedOut = outcomeOf(await put(k2, 'gemini', geminiKey('kms-2')));
    figures.kmsTimingOut = `${describeOutcome(timedOut)} in ${Date.now() - t} ms`;
    check(timedOut.status === 503 && timedOut.code === 'kms_unavailable', `a KMS that times out gave ${describeOutcome(timedOut)}`);
    kms.clearFaults();
    const keyAfterKms = await put(k2, 'gemini', geminiKey('kms-2'));
    check(keyAfterKms.status === 200, `after the KMS recovered storing a key answered ${keyAfterKms.status}`);
    const keysK2 = await api(base, k2, 'GET', '/keys');
    figures.kmsRecovered = keyAfterKms.status === 200 ? 'yes, next request' : 'no';
    figures.kmsRetryHint = throttled.retryAfter ?? (throttled.retryAfterMs !== undefined ? `${String(throttled.retryAfterMs)} ms` : 'none');
    if (!throttled.retryAfter) failures.push(`kms_unavailable (503) carries no retry hint (Retry-After / details.retryAfterMs), though retrying helps`);
    check(keysK2.status === 200, 'listing keys after the KMS fault failed');
    log('kms');

    // Provider faults. A chat user with a Gemini and a Claude key.
    const c = await user('chat-1');
    check((await put(c, 'gemini', geminiKey('chat-1'))).status === 200, 'storing the Gemini key failed');
    const anthropicKey = `sk-ant-rel-${randomBytes(8).toString('hex')}`;
    handedOut.providerKeys.push(anthropicKey);
    check((await put(c, 'anthropic', anthropicKey)).status === 200, 'storing the Anthropic key failed');
    const sGemini = await newSession(base, c);
    const sClaude = await newSession(base, c, 'anthropic', 'claude-sonnet-5-5');
    const ok1 = await sendChat(base, c, sGemini, { text: 'before the faults' });
    check(ok1.end === 'finish', `a plain send ended ${ok1.end}`);

    const streamOutcome = (r: StreamRead) =>
      r.status !== 200 ? `${r.status} ${r.error?.code}${r.retryAfter ? ` Retry-After ${r.retryAfter}` : ''}` : `200 stream, end ${r.end}, reply ${r.usage?.status ?? '?'} ${r.usage?.errorCode ?? ''}`;

    stage.gemini.injectFault({ kind: 'reset', afterChunks: 3 }, { times: 1 });
    const dropped = await sendChat(base, c, sGemini, { text: 'the provider drops me' });
    figures.providerDropsMidStream = streamOutcome(dropped);
    check(dropped.status === 200 && (dropped.end === 'error' || dropped.end === 'abort') && dropped.done, `a dropped provider stream ended ${streamOutcome(dropped)}`);
    check(dropped.usage?.errorCode === 'provider_network_error', `a dropped provider stream has error code ${dropped.usage?.errorCode}`);
    const afterDrop = await listMessages(base, c, sGemini);
    const droppedReply = afterDrop.find((m) => m.id === dropped.turn?.assistantMessageId);
    check(afterDrop.some((m) => m.role === 'user' && m.text === 'the provider drops me'), 'the user message of the dropped turn is lost');
    check(droppedReply !== undefined && droppedReply.status !== 'streaming' && droppedReply.text === dropped.text, `the dropped reply is stored ${droppedReply?.status} with ${droppedReply?.text.length} chars (client saw ${dropped.text.length})`);
    const afterDropSend = await sendChat(base, c, sGemini, { text: 'and again' });
    check(afterDropSend.end === 'finish', `the send after a dropped stream ended ${afterDropSend.end}`);

    stage.gemini.injectFault({ kind: 'rate-limit', retryAfterSeconds: 7 }, { times: 1_000 });
    const limited = await sendChat(base, c, sGemini, { text: 'rate limited' });
    stage.gemini.clearFaults();
    figures.provider429 = streamOutcome(limited);
    const limitedHint = limited.status === 429 ? limited.retryAfter : undefined;
    check(
      (limited.status === 429 && limited.error?.code === 'provider_rate_limited') || (limited.status === 200 && limited.usage?.errorCode === 'provider_rate_limited'),
      `a provider 429 gave ${streamOutcome(limited)}`,
    );
    check(limited.status !== 200 || limited.done, 'the stream of a rate-limited turn did not end');
    if (limited.status === 429) check(limitedHint === '7', `the provider's Retry-After 7 became ${limitedHint}`);
    else {
      const hint = (limited.usage as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
      check(hint === 7_000, `a provider 429 after the stream began carries no retry hint in data-byok-usage (got ${String(hint)}): ${limited.errorText}`);
    }
    const afterLimit = await sendChat(base, c, sGemini, { text: 'after the limit' });
    check(afterLimit.end === 'finish', `the send after the provider's 429 ended ${afterLimit.end}`);

    claude.injectFault({ kind: 'server-error', status: 503 }, { times: 1_000 });
    const overloaded = await sendChat(base, c, sClaude, { text: 'overloaded' });
    claude.clearFaults();
    figures.provider529 = streamOutcome(overloaded);
    check(
      (overloaded.status === 503 && overloaded.error?.code === 'provider_unavailable') || (overloaded.status === 200 && overloaded.usage?.errorCode === 'provider_unavailable'),
      `Anthropic's 529 gave ${streamOutcome(overloaded)}`,
    );
    const afterOverload = await sendChat(base, c, sClaude, { text: 'after the overload' });
    check(afterOverload.end === 'finish', `the send after the 529 ended ${afterOverload.end} ${afterOverload.errorText ?? ''}`);
    figures.providerRecovered = afterDropSend.end === 'finish' && afterLimit.end === 'finish' && afterOverload.end === 'finish' ? 'yes, next send' : 'no';
    log('providers');

    // Redis goes away and comes back.
    const before = await countMessages(base, users);
    await redisProxy.cut();
    const duringRedis: string[] = [];
    const r1 = await sendChat(base, c, sGemini, { text: 'while Redis is away' }, { timeoutMs: 15_000 });
    duringRedis.push(`send: ${streamOutcome(r1)}${r1.done ? '' : ` (no [DONE]; last chunk ${r1.events.at(-1)?.chunk?.type ?? r1.events.at(-1)?.data ?? 'none'})`}`);
    if (r1.status === 200 && !r1.done) failures.push(`with Redis away the reply stream broke off without its end (${r1.events.length} events, reply stored ${r1.usage?.status ?? '?'})`);
    const r2 = outcomeOf(await api(base, c, 'GET', '/me'));
    duringRedis.push(`me: ${describeOutcome(r2)}`);
    const login = await fetch(`${base}/auth/login/dev`, { redirect: 'manual' });
    duringRedis.push(`login: ${login.status}`);
    await login.arrayBuffer();
    figures.redisAway = duringRedis.join('; ');
    for (const [what, status, code] of [
      ['send', r1.status, r1.error?.code],
      ['me', r2.status, r2.code],
    ] as const) {
      if (status >= 500 && (code === undefined || code === 'internal')) failures.push(`with Redis away ${what} answered ${status} ${code ?? '(untyped)'}`);
    }
    if (login.status >= 500) failures.push(`with Redis away the login start answered ${login.status}`);
    await sleep(1_000);
    await redisProxy.restore();
    t = Date.now();
    const redisBack = await until(async () => {
      const r = await sendChat(base, c, sGemini, { text: `Redis back ${Date.now()}` }, { timeoutMs: 5_000 });
      return r.end === 'finish' ? r : null;
    }, 20_000, 200).catch(() => null);
    figures.redisRecoveryMs = redisBack ? Date.now() - t : 'none in 20 s';
    check(redisBack !== null, 'chat did not come back after Redis returned');
    log('redis');

    // The database "restarts": a reply is streaming when every connection drops.
    stage.gemini.configure({ chunks: 40, chunkDelayMs: 50 });
    // Several replies stream (saving as they go) when the connections drop.
    const flightSessions = [sGemini, ...(await Promise.all([1, 2, 3, 4].map(() => newSession(base, c))))];
    const flights = flightSessions.map((id) => sendChat(base, c, id, { text: 'streaming through a database restart' }, { timeoutMs: 30_000 }));
    const inFlight = flights[0]!;
    await sleep(500);
    await pg.cut();
    const duringDb: string[] = [];
    const d1 = outcomeOf(await api(base, c, 'GET', '/chat/sessions'));
    duringDb.push(`list sessions: ${describeOutcome(d1)}`);
    const d2 = await sendChat(base, c, sClaude, { text: 'while the database is away' }, { timeoutMs: 15_000 });
    duringDb.push(`send: ${streamOutcome(d2)}`);
    figures.databaseAway = duringDb.join('; ');
    check(d1.status === 503 && d1.code === 'database_unavailable', `with the database away listing sessions gave ${describeOutcome(d1)}`);
    check(d2.status === 503 && d2.error?.code === 'database_unavailable', `with the database away a send gave ${streamOutcome(d2)}`);
    if (d1.status === 503 && !d1.retryAfter) failures.push('database_unavailable (503) carries no retry hint (Retry-After / details.retryAfterMs), though retrying helps');
    await sleep(1_500);
    await pg.restore();
    await Promise.all(flights);
    await sleep(300);
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) {
      const tail = server.output().split('\n').filter((l) => !l.startsWith('{') && !l.startsWith('[ioredis]') && /Error|terminated/.test(l)).slice(-3).join(' | ');
      failures.push(`the database restart killed the server process (exit ${server.proc.exitCode ?? server.proc.signalCode}): ${tail}`);
      figures.databaseRestart = 'server process died; restarted by hand to finish the checks';
      server = await spawnServer(config);
      base = server.base;
    }
    t = Date.now();
    const dbBack = await until(async () => ((await api(base, c, 'GET', '/chat/sessions')).status === 200 ? true : null), 20_000, 100).catch(() => null);
    figures.databaseRecoveryMs = dbBack ? Date.now() - t : 'none in 20 s';
    check(dbBack !== null, 'the API did not come back after the database returned');
    const flight = await inFlight;
    // (A reply whose server died has no live run left: its lease expires and recovery settles it.)
    figures.replyAcrossDatabaseRestart = streamOutcome(flight);
    // Every reply that finished streaming while the database was away is stored whole once it
    // is back (byok retries the final write for up to a lease): what each client saw is what is stored.
    const across = await Promise.all(
      (await Promise.all(flights)).map(async (f, i) => {
        const reply = (await listMessages(base, c, flightSessions[i]!)).find((m) => m.id === f.turn?.assistantMessageId);
        return { f, reply };
      }),
    );
    figures.repliesAcrossDatabaseRestart = across.map(({ f, reply }) => `${f.end}/${reply?.status ?? 'missing'} ${reply?.text.length ?? 0} of ${f.text.length} chars`).join('; ');
    for (const { f, reply } of across) {
      check(f.end === 'finish' && reply?.status === 'complete', `a reply across the database restart ended ${streamOutcome(f)} and is stored ${reply?.status ?? 'nowhere'}`);
      check(reply !== undefined && reply.text === f.text, `a reply across the database restart lost what the client saw: stored ${reply?.text.length ?? 0} chars, the client saw ${f.text.length}`);
    }
    stage.gemini.configure({ chunks: 10, chunkDelayMs: 20 });
    // The interrupted reply settles (its lease runs out if its saves failed); the user message stays.
    const settled = await until(async () => {
      const ms = await listMessages(base, c, sGemini);
      const reply = ms.find((m) => m.id === flight.turn?.assistantMessageId);
      return reply && reply.status !== 'streaming' ? ms : null;
    }, 20_000, 250).catch(() => null);
    check(settled !== null, 'the reply interrupted by the database restart is still streaming 20 s later');
    if (settled) {
      check(settled.some((m) => m.role === 'user' && m.text === 'streaming through a database restart'), 'the user message of the reply across the restart is lost');
      const reply = settled.find((m) => m.id === flight.turn?.assistantMessageId)!;
      figures.replyAcrossDatabaseRestartStored = `${reply.status} ${reply.errorCode ?? ''} ${reply.text.length} chars (client saw ${flight.text.length})`;
    }
    const afterDb = await sendChat(base, c, sClaude, { text: 'after the database restart' });
    check(afterDb.end === 'finish', `the send after the database restart ended ${afterDb.end} ${afterDb.errorText ?? ''}`);
    const fresh = await signIn(stage.issuer, base, 'after-db');
    check((await api(base, fresh, 'GET', '/me')).status === 200, 'sign-in after the database restart failed');
    log('database');

    // Nothing lost: every message stored before the Redis and database faults is still there.
    const after = await countMessages(base, users);
    let lost = 0;
    for (const [id, n] of before) if ((after.get(id) ?? 0) < n) lost++;
    figures.sessionsWithLostMessages = lost;
    check(lost === 0, `${lost} sessions lost messages across the Redis and database faults`);
    // The leak scan (point 7): the database and every server process's log, errors included.
    const scan = await scanScenario(stage);
    figures.leakScan = scan.summary;
    failures.push(...scan.leaks);
    return { name: 'faults (KMS, providers, Redis, PostgreSQL)', ok: failures.length === 0, figures, failures };
  } finally {
    await server?.kill('SIGKILL');
    await Promise.allSettled([kms?.close(), claude?.close(), pg?.close(), redisProxy?.close()]);
    await stage.close();
    await clearRedisPrefix(keyPrefix);
  }
}

async function countMessages(base: string, users: User[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const u of users) {
    const r = await api(base, u, 'GET', '/chat/sessions?limit=100');
    if (r.status !== 200) continue;
    for (const s of (r.body as { items: Array<{ id: string }> }).items) out.set(s.id, (await listMessages(base, u, s.id)).length);
  }
  return out;
}
