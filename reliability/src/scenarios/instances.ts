// Issue 11.5, several instances: two byok servers on different loopback ports share one
// PostgreSQL database and one Redis. A user signs in on one and chats on the other; a
// reply produced by one is resumed and stopped from the other; in strict mode a revoked
// session is refused by both at once; a signing key rotated on one verifies on the
// other; a rate limit holds across both, also with rotating forged X-Forwarded-For
// entries in front of the address the trusted proxy appends.
import { randomBytes } from 'node:crypto';
import {
  api,
  clearRedisPrefix,
  dumpRedis,
  geminiKey,
  isFull,
  listMessages,
  newSession,
  putKey,
  resumeChat,
  scanScenario,
  sendChat,
  signIn,
  sleep,
  startStage,
  stepLog,
  until,
  type ScenarioResult,
} from './support';
import { startScenarioServer, type ScenarioServer } from './server-app';
import { capturingLogger } from '../capturing-logger';

export async function runInstances(): Promise<ScenarioResult> {
  const full = isFull();
  const failures: string[] = [];
  const figures: Record<string, number | string> = {};
  const log = stepLog('instances');
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
    return ok;
  };
  const stage = await startStage({ serverCount: 1, chunks: 8, chunkDelayMs: 10 });
  const redis = { host: '127.0.0.1', port: 6379, keyPrefix: `byok-rel:${randomBytes(6).toString('hex')}:` };
  const limits = { login_start: { perIp: 5 }, login_callback: false as const, refresh: false as const, key_test: false as const, key_set: false as const, chat_send: { perUser: 6 }, chatStream: false as const };
  // byok's log lines of both instances, for the leak scan.
  const logLines: string[] = [];
  const logger = capturingLogger(logLines);
  let a: ScenarioServer | null = null;
  let b: ScenarioServer | null = null;
  try {
    a = await startScenarioServer(stage.config(stage.ports[0]!, { redis, strict: true, trustProxy: 1, rateLimits: limits }), { logger });
    // Both instances sit behind one public address: the sign-in callbacks go to A's.
    b = await startScenarioServer(stage.config(0, { redis, strict: true, trustProxy: 1, rateLimits: limits, authBase: a.base, migrate: false }), { logger });
    figures.portA = a.port;
    figures.portB = b.port;
    const A = a.base;
    const B = b.base;

    // Sign in on A, store the key and chat on B, read it back on A.
    const alice = await signIn(stage.issuer, A, 'alice');
    await putKey(B, alice, 'gemini', geminiKey('alice'));
    const s1 = await newSession(B, alice);
    const r1 = await sendChat(B, alice, s1, { text: 'hello from B' });
    check(r1.status === 200 && r1.end === 'finish', `chat on B after sign-in on A ended ${r1.status} ${r1.end} ${JSON.stringify(r1.error)}`);
    const onA = await listMessages(A, alice, s1);
    check(onA.length === 2 && onA[1]!.status === 'complete' && onA[1]!.text === r1.text, 'A does not read what B stored');
    figures.signInOnAChatOnB = failures.length === 0 ? 'ok' : 'failed';
    log('sign-in on A, chat on B');

    // A reply produced by A, resumed from B and stopped from B.
    stage.gemini.configure({ chunks: 60, chunkDelayMs: 50 });
    const s2 = await newSession(A, alice);
    let resumedOnB: Promise<Awaited<ReturnType<typeof resumeChat>>> | null = null;
    let stopAnswer: Awaited<ReturnType<typeof api>> | null = null;
    const t0 = Date.now();
    const producing = sendChat(A, alice, s2, { text: 'a long one, on A' }, {
      onEvent: (read) => {
        if (!resumedOnB && read.text.length > 0) resumedOnB = resumeChat(B, alice, s2);
      },
    });
    await until(() => resumedOnB !== null, 20_000, 20);
    // Let B's reader get some of the reply, then stop it from B.
    await sleep(600);
    stopAnswer = await api(B, alice, 'POST', `/chat/sessions/${s2}/stop`, {});
    const [produced, resumed] = await Promise.all([producing, resumedOnB!]);
    figures.stopAcrossInstancesMs = Date.now() - t0;
    check(stopAnswer.status === 200, `stop on B answered ${stopAnswer.status} ${JSON.stringify(stopAnswer.body)}`);
    check(produced.end === 'abort' && produced.done, `A's stream ended ${produced.end} after the stop on B`);
    check(resumed.status === 200 && resumed.done && resumed.end === 'abort', `B's resumed stream ended ${resumed.status} ${resumed.end}`);
    const stopped = (await listMessages(A, alice, s2)).at(-1)!;
    check(stopped.status === 'incomplete', `the reply stopped from B is ${stopped.status}`);
    check(resumed.text === stopped.text && produced.text === stopped.text, `A saw ${produced.text.length} chars, B ${resumed.text.length}, stored ${stopped.text.length}`);
    check(stopped.text.length > 0 && stopped.text.length < 60 * 3, 'the stop did not cut the reply short');
    figures.resumedAndStoppedFromB = `A ${produced.text.length} chars, B ${resumed.text.length}, stored ${stopped.text.length} (${stopped.status}, ${stopped.errorCode})`;
    stage.gemini.configure({ chunks: 8, chunkDelayMs: 10 });
    log('resume and stop across instances');

    // Strict mode: a session revoked on A is refused by A and B at once.
    const bob = await signIn(stage.issuer, A, 'bob');
    check((await api(A, bob, 'GET', '/me')).status === 200 && (await api(B, bob, 'GET', '/me')).status === 200, 'bob is not signed in on both');
    const logout = await api(A, bob, 'POST', '/auth/logout', { refreshToken: bob.refreshToken });
    check(logout.status === 204 || logout.status === 200, `logout on A answered ${logout.status}`);
    const revokedAt = Date.now();
    let refusedOnA = -1;
    let refusedOnB = -1;
    await until(
      async () => {
        if (refusedOnA < 0 && (await api(A, bob, 'GET', '/me')).status === 401) refusedOnA = Date.now() - revokedAt;
        if (refusedOnB < 0 && (await api(B, bob, 'GET', '/me')).status === 401) refusedOnB = Date.now() - revokedAt;
        return refusedOnA >= 0 && refusedOnB >= 0;
      },
      2_000,
      10,
    ).catch(() => undefined);
    figures.revokedRefusedOnAMs = refusedOnA;
    figures.revokedRefusedOnBMs = refusedOnB;
    // "At once": within the pub/sub delivery, far inside the 60 s session-check cache.
    check(refusedOnA >= 0 && refusedOnA < 1_000 && refusedOnB >= 0 && refusedOnB < 1_000, `the revoked session was refused after ${refusedOnA} ms on A and ${refusedOnB} ms on B`);
    log('strict revocation');

    // A signing key rotated on A verifies on B.
    const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    const before = kidOf(alice.accessToken);
    const rotated = await a.byok.auth.rotateKeys({ publishDelayMs: 0 });
    const carol = await signIn(stage.issuer, A, 'carol');
    const kid = kidOf(carol.accessToken);
    check(kid === rotated.kid && kid !== before, `the token after the rotation is signed by ${kid}, not the new key ${rotated.kid}`);
    const meB = await api(B, carol, 'GET', '/me');
    check(meB.status === 200, `B refused a token signed by the key rotated on A: ${meB.status} ${JSON.stringify(meB.body)}`);
    check((await api(B, alice, 'GET', '/me')).status === 200, 'B refused a token signed by the previous key');
    figures.rotatedKeyVerifiesOnB = meB.status === 200 ? 'yes' : 'no';
    log('key rotation');

    // Rate limits across both: chat_send 6 per user and minute, login_start 5 per IP and minute.
    const dave = await signIn(stage.issuer, A, 'dave');
    await putKey(A, dave, 'gemini', geminiKey('dave'));
    const sessions = [await newSession(A, dave), await newSession(B, dave)];
    const sendStatuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const on = i % 2 === 0 ? A : B;
      const r = await sendChat(on, dave, sessions[i % 2]!, { text: `limit ${i}` });
      sendStatuses.push(r.status);
      if (r.status === 429) retryAfter = r.retryAfter ?? null;
    }
    figures.chatSendStatusesAlternating = sendStatuses.join(',');
    check(sendStatuses.slice(0, 6).every((s) => s === 200) && sendStatuses.slice(6).every((s) => s === 429), `chat_send across A and B: ${sendStatuses.join(',')} (6 allowed per user)`);
    check(retryAfter !== null && Number(retryAfter) > 0, 'the 429 carries no Retry-After');

    const realClient = '198.51.100.7';
    const loginStatuses: number[] = [];
    let loginRetry: string | null = null;
    for (let i = 0; i < 8; i++) {
      const forged = `${Math.floor(Math.random() * 223) + 1}.${i}.${Math.floor(Math.random() * 255)}.${Math.floor(Math.random() * 255)}`;
      const res = await fetch(`${i % 2 === 0 ? A : B}/auth/login/dev`, { redirect: 'manual', headers: { 'x-forwarded-for': `${forged}, ${realClient}` } });
      loginStatuses.push(res.status);
      if (res.status === 429) loginRetry = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    figures.loginStartStatusesRotatingXff = loginStatuses.join(',');
    check(loginStatuses.slice(0, 5).every((s) => s === 302) && loginStatuses.slice(5).every((s) => s === 429), `login_start with rotating forged X-Forwarded-For across A and B: ${loginStatuses.join(',')} (5 allowed per IP)`);
    check(loginRetry !== null, 'the login 429 carries no Retry-After');
    const other = await fetch(`${B}/auth/login/dev`, { redirect: 'manual', headers: { 'x-forwarded-for': `10.9.9.9, 198.51.100.8` } });
    check(other.status === 302, `another client behind the proxy was refused too (${other.status}): the limit is not per IP`);
    log('rate limits');
    if (full) figures.mode = 'full';
    // The leak scan (point 7): the database, what Redis holds for the two instances, and their logs.
    const shared = await dumpRedis(redis.keyPrefix);
    const scan = await scanScenario(stage, [shared, { where: "the instances' log", text: logLines.join('\n') }]);
    figures.leakScan = `${scan.summary}; ${shared.keys} Redis keys, ${logLines.length} log lines`;
    failures.push(...scan.leaks);
    return { name: 'several instances (PostgreSQL + Redis)', ok: failures.length === 0, figures, failures };
  } finally {
    await b?.close().catch(() => undefined);
    await a?.close().catch(() => undefined);
    await stage.close();
    await clearRedisPrefix(redis.keyPrefix);
  }
}
