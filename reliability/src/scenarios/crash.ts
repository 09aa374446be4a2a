// Issue 11.3, crash safety on PostgreSQL: a byok server (createByok + @byok/express, in a
// child process) is killed with SIGKILL during many concurrent chat sends; after a restart
// every acknowledged user message is stored once, seq is gapless, the interrupted replies
// turn `incomplete` when their leases expire and resuming clients get the stored state.
// Then `byok kms rewrap` is killed halfway, resumed and finished, every secret still
// opens, and `byok audit verify` with the server's signed checkpoints passes.
import { spawn } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createByok, generateAuditCheckpointKeys, localKms } from '@byok/core';
// The `byok` command line itself (what the bin runs), for the commands that need no process of their own.
import { runCli } from '../../../packages/core/src/cli/main';
import type { Haystack } from '../secret-scan';
import {
  api,
  gapless,
  geminiKey,
  handedOut,
  handOutMasterKeys,
  isFull,
  listMessages,
  newSession,
  pool,
  putKey,
  resumeChat,
  scanScenario,
  sendChat,
  signIn,
  spawnServer,
  stepLog,
  startStage,
  until,
  type ScenarioResult,
  type ServerProcess,
  type StreamRead,
  type User,
} from './support';

export interface CrashOptions {
  users?: number;
  sessionsPerUser?: number;
  leaseMs?: number;
}

const CLI = fileURLToPath(new URL('../../../packages/core/src/cli.ts', import.meta.url));
const CORE = fileURLToPath(new URL('../../../packages/core/src/index.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));

interface Send {
  user: User;
  sessionId: string;
  clientMessageId: string;
  text: string;
  read?: StreamRead;
}

export async function runCrash(options: CrashOptions = {}): Promise<ScenarioResult> {
  const full = isFull();
  const userCount = options.users ?? (full ? 50 : 10);
  const perUser = options.sessionsPerUser ?? (full ? 10 : 5);
  const leaseMs = options.leaseMs ?? 2_000;
  const failures: string[] = [];
  const figures: Record<string, number | string> = {};
  const stage = await startStage({ serverCount: 1, chunks: 40, chunkDelayMs: 60 });
  const dir = await mkdtemp(join(tmpdir(), 'byok-rel-crash-'));
  const checkpointKeys = generateAuditCheckpointKeys();
  // The checkpoint signing key is a secret too: its PEM body and its raw private member.
  handedOut.signingKeys.push(checkpointKeys.privateKey.replace(/-----[^-]+-----|\s/g, ''), String(createPrivateKey(checkpointKeys.privateKey).export({ format: 'jwk' }).d));
  const checkpointFile = join(dir, 'audit-checkpoints.jsonl');
  const publicKeyFile = join(dir, 'audit-checkpoint.pub');
  await writeFile(publicKeyFile, checkpointKeys.publicKey);
  const port = stage.ports[0]!;
  const config = (masterKeys: string) => stage.config(port, { leaseMs, masterKeys, sealContent: true, checkpoints: { signingKey: checkpointKeys.privateKey, file: checkpointFile } });
  let server: ServerProcess | null = null;
  const log = stepLog('crash');
  try {
    server = await spawnServer(config(stage.masterKeys));
    const base = server.base;
    const users = await pool(
      Array.from({ length: userCount }, (_, i) => `crash-${i}`),
      8,
      async (login) => {
        const user = await signIn(stage.issuer, base, login);
        await putKey(base, user, 'gemini', geminiKey(login));
        return user;
      },
    );
    log('users signed in');
    const sends: Send[] = [];
    for (const user of users) {
      const sessions = await pool(Array.from({ length: perUser }), 8, () => newSession(base, user));
      for (const [i, sessionId] of sessions.entries()) sends.push({ user, sessionId, clientMessageId: `c-${randomBytes(8).toString('hex')}`, text: `${user.login} message ${i}` });
    }
    figures.sends = sends.length;

    log('sessions created');
    // All sends at once; the kill comes when half of them are acknowledged.
    let acked = 0;
    const killAt = Math.ceil(sends.length / 2);
    const running = sends.map(async (s) => {
      s.read = await sendChat(base, s.user, s.sessionId, { text: s.text, clientMessageId: s.clientMessageId }, { onEvent: (r, e) => void (e.chunk?.type === 'data-byok-turn' && acked++), timeoutMs: 60_000 });
    });
    const started = Date.now();
    await until(() => acked >= killAt, 60_000, 5);
    const victim = server;
    server = null;
    figures.killedAfterMs = Date.now() - started;
    const signal = await victim.kill('SIGKILL');
    if (signal !== 'SIGKILL') failures.push(`the server exited with ${String(signal)}, not SIGKILL`);
    await Promise.all(running);
    log('killed; sends settled');
    const ackedSends = sends.filter((s) => s.read?.turn?.userMessage);
    figures.acknowledged = ackedSends.length;
    figures.unacknowledged = sends.length - ackedSends.length;
    figures.completeBeforeKill = sends.filter((s) => s.read?.done).length;
    figures.repliesCutMidStream = ackedSends.filter((s) => !s.read?.done).length;
    for (const s of sends) if (s.read?.status !== 200 && s.read?.status !== 0) failures.push(`send ${s.clientMessageId} answered ${s.read?.status} ${JSON.stringify(s.read?.error)}`);

    // Restart on the same database (and, for the rewrap below, with a new primary master
    // key beside the old one); recovery runs at start and every lease.
    const newKeys = `2:${randomBytes(32).toString('base64')},${stage.masterKeys}`;
    handOutMasterKeys(newKeys);
    const restartAt = Date.now();
    server = await spawnServer(config(newKeys));
    figures.restartMs = Date.now() - restartAt;
    log('restarted');
    const b2 = server.base;
    const sessions = [...new Set(sends.map((s) => s.sessionId))];
    const owner = new Map(sends.map((s) => [s.sessionId, s.user]));
    let stillStreaming = 0;
    const settledAt = Date.now();
    await until(
      async () => {
        stillStreaming = 0;
        await pool(sessions, 16, async (id) => {
          const messages = await listMessages(b2, owner.get(id)!, id);
          stillStreaming += messages.filter((m) => m.status === 'streaming').length;
        });
        return stillStreaming === 0;
      },
      leaseMs * 6 + 20_000,
      250,
    ).catch(() => failures.push(`${stillStreaming} replies still streaming ${leaseMs * 6 + 20_000} ms after the restart`));
    figures.incompleteAfterMs = Date.now() - settledAt;
    figures.phaseCrashMs = Date.now() - started;

    log('no reply streaming');
    // What is stored, against what clients saw.
    let lost = 0;
    let duplicated = 0;
    let gaps = 0;
    let incomplete = 0;
    let complete = 0;
    let resumedOk = 0;
    let resumedBad = 0;
    let unsaved = 0;
    let finishedBeforeKillUnseen = 0;
    await pool(sends, 16, async (s) => {
      const messages = await listMessages(b2, s.user, s.sessionId);
      if (!gapless(messages)) {
        gaps++;
        failures.push(`session ${s.sessionId}: seq ${messages.map((m) => m.seq).join(',')} has a gap`);
      }
      const mine = messages.filter((m) => m.role === 'user' && m.clientMessageId === s.clientMessageId);
      const sameText = messages.filter((m) => m.role === 'user' && m.text === s.text);
      if (mine.length > 1 || sameText.length > 1) {
        duplicated++;
        failures.push(`session ${s.sessionId}: the user message is stored ${Math.max(mine.length, sameText.length)} times`);
      }
      const ack = s.read?.turn;
      if (ack?.userMessage) {
        const stored = messages.find((m) => m.id === ack.userMessage!.id);
        if (!stored || stored.text !== s.text || stored.seq !== ack.userMessage.seq) {
          lost++;
          failures.push(`session ${s.sessionId}: acknowledged user message ${ack.userMessage.id} is ${stored ? 'changed' : 'missing'}`);
        }
        const reply = messages.find((m) => m.id === ack.assistantMessageId);
        if (!reply) {
          lost++;
          failures.push(`session ${s.sessionId}: acknowledged reply ${ack.assistantMessageId} is missing`);
          return;
        }
        if (reply.status === 'complete') complete++;
        if (reply.status === 'incomplete') incomplete++;
        if (s.read!.done) {
          if (reply.status !== 'complete' || reply.text !== s.read!.text) failures.push(`session ${s.sessionId}: a reply the client saw finish is stored ${reply.status} with other text`);
        } else {
          // The kill can fall between the reply's final save and its last chunks reaching the
          // client: then the reply is rightly complete, and the resume delivers its end.
          const finishedUnseen = reply.status === 'complete';
          if (finishedUnseen) finishedBeforeKillUnseen++;
          else if (reply.status !== 'incomplete' || reply.errorCode !== 'lease_expired') failures.push(`session ${s.sessionId}: an interrupted reply is ${reply.status} (${reply.errorCode}), not incomplete/lease_expired`);
          // The client resumes with the last id it saw: it gets the stored rest, and the stream ends.
          const resumed = await resumeChat(b2, s.user, s.sessionId, s.read!.lastEventId);
          const seen = s.read!.text;
          const ended = resumed.status === 200 && resumed.done && resumed.usage?.status === (finishedUnseen ? 'complete' : 'incomplete');
          // Either the client saw less than was stored (the resume gives the rest), or more
          // (deltas streamed after the last save): then the resume gives nothing more and ends.
          const consistent = reply.text.startsWith(seen) ? seen + resumed.text === reply.text : seen.startsWith(reply.text) && resumed.text === '';
          if (!reply.text.startsWith(seen)) unsaved += seen.length - reply.text.length;
          if (ended && consistent) resumedOk++;
          else {
            resumedBad++;
            failures.push(
              `session ${s.sessionId}: resuming after ${s.read!.lastEventId} answered ${resumed.status} done=${resumed.done} status=${resumed.usage?.status}; client saw ${seen.length} chars + resumed ${resumed.text.length}, stored ${reply.text.length}; resumed chunks ${resumed.events.map((e) => e.chunk?.type ?? e.data).join(',')}`,
            );
          }
        }
      }
    });
    figures.lostAcknowledged = lost;
    figures.duplicated = duplicated;
    figures.seqGaps = gaps;
    figures.repliesComplete = complete;
    figures.repliesIncompleteAfterLease = incomplete;
    figures.repliesSavedCompleteBeforeTheClientSawTheEnd = finishedBeforeKillUnseen;
    figures.resumedWithStoredState = resumedOk;
    figures.resumeMismatches = resumedBad;
    figures.charsStreamedButNotSavedBeforeKill = unsaved;

    log('checked stored state');
    stage.gemini.configure({ chunks: 8, chunkDelayMs: 5 });
    // Clients that saw no acknowledgement retry with the same clientMessageId: one turn each.
    const retried = sends.filter((s) => !s.read?.turn?.userMessage);
    let retryDuplicates = 0;
    let retryFailed = 0;
    await pool(retried, 16, async (s) => {
      const r = await sendChat(b2, s.user, s.sessionId, { text: s.text, clientMessageId: s.clientMessageId });
      if (r.status !== 200 || !r.done) {
        retryFailed++;
        failures.push(`retry of ${s.clientMessageId} answered ${r.status} ${JSON.stringify(r.error)} done=${r.done}`);
      }
      const messages = await listMessages(b2, s.user, s.sessionId);
      if (messages.filter((m) => m.role === 'user' && m.clientMessageId === s.clientMessageId).length !== 1) retryDuplicates++;
      if (!gapless(messages)) failures.push(`session ${s.sessionId}: seq has a gap after the retry`);
    });
    if (retryDuplicates) failures.push(`${retryDuplicates} retried messages are not stored exactly once`);
    figures.retriedUnacknowledged = retried.length;
    figures.retryFailures = retryFailed;
    figures.retryDuplicates = retryDuplicates;

    log('retries done');
    // The server runs with both master keys while `byok kms rewrap` moves every data key to the new one.
    const cliConfig = join(dir, 'byok.config.mjs');
    await writeFile(
      cliConfig,
      `import { localKms } from ${JSON.stringify(CORE)};\nexport default { database: { postgres: ${JSON.stringify(stage.config(0).postgres)} }, kms: localKms({ keys: ${JSON.stringify(newKeys)} }), memory: { sealContent: true } };\n`,
    );
    log('server on new keys');
    const before = await cliHere(['kms', 'status', '--config', cliConfig]);
    figures.sealedBehindBeforeRewrap = Number(/(\d+) record\(s\) not under the primary/.exec(before.stdout)?.[1] ?? 0);
    let t = Date.now();
    const killed = await cli(['kms', 'rewrap', '--batch', '1', '--config', cliConfig], { killAfterProgressLines: Math.max(1, Math.floor(Number(figures.sealedBehindBeforeRewrap) / 2)) });
    if (killed.signal !== 'SIGKILL') failures.push(`rewrap was not killed halfway (it ended with ${killed.code}/${killed.signal})`);
    log('rewrap killed');
    const middle = await cliHere(['kms', 'status', '--config', cliConfig]);
    const behindAfterKill = Number(/(\d+) record\(s\) not under the primary/.exec(middle.stdout)?.[1] ?? 0);
    figures.sealedBehindAfterKill = behindAfterKill;
    if (!(behindAfterKill > 0 && behindAfterKill < figures.sealedBehindBeforeRewrap)) failures.push(`after the kill ${behindAfterKill} of ${figures.sealedBehindBeforeRewrap} records were left: not halfway`);
    const finished = await cliHere(['kms', 'rewrap', '--batch', '5', '--config', cliConfig]);
    figures.rewrapMs = Date.now() - t;
    figures.rewrapResumeSummary = finished.stdout.trim().split('\n')[0] ?? '';
    if (finished.code !== 0) failures.push(`the resumed rewrap exited ${finished.code}: ${finished.stdout} ${finished.stderr.slice(-500)}`);
    const after = await cliHere(['kms', 'status', '--config', cliConfig]);
    if (!after.stdout.includes('every record is under the primary KEK')) failures.push(`after the rewrap: ${after.stdout}`);

    log('rewrap finished');
    // Every secret still opens: a fresh byok (nothing cached) with the rotated keys opens each
    // user's provider key and sealed chat, and the running server keeps serving and signing in.
    const fresh = await createByok({ database: { postgres: stage.config(0).postgres }, migrate: false, kms: localKms({ keys: newKeys }), memory: { sealContent: true } });
    let opened = 0;
    try {
      for (const user of users) {
        const old = sends.find((s) => s.user === user)!;
        const key = await fresh.keyVault.withKey(user.userId, 'gemini', async (k) => k).catch((e: unknown) => e);
        const messages = await fresh.chat.listMessages(user.userId, old.sessionId).catch(() => null);
        if (typeof key === 'string' && key.startsWith('AIzaSyREL-') && messages?.items.some((m) => m.text === old.text)) opened++;
        else failures.push(`${user.login}: after the rewrap the provider key or the sealed chat does not open`);
      }
    } finally {
      await fresh.close();
    }
    const b3 = server.base;
    const someone = users[0]!;
    const afterRewrap = await sendChat(b3, someone, await newSession(b3, someone), { text: 'after the rewrap' });
    if (afterRewrap.end !== 'finish') failures.push(`a chat after the rewrap ended ${afterRewrap.end} ${JSON.stringify(afterRewrap.error)}`);
    const newcomer = await signIn(stage.issuer, b3, 'crash-after-rewrap');
    if ((await api(b3, newcomer, 'GET', '/me')).status !== 200) failures.push('sign-in after the rewrap failed');
    figures.usersWhoseSecretsOpen = opened;
    await server.kill('SIGTERM');
    server = null;
    log('server stopped');

    const verify = await cliHere(['audit', 'verify', '--checkpoints', checkpointFile, '--public-key', publicKeyFile, '--config', cliConfig]);
    const checkpointLines = (await readFile(checkpointFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    figures.auditCheckpoints = checkpointLines;
    figures.auditVerify = verify.code === 0 ? 'passed' : `failed (${verify.code})`;
    if (verify.code !== 0 || checkpointLines === 0) failures.push(`byok audit verify exited ${verify.code} with ${checkpointLines} checkpoints: ${verify.stdout.slice(-800)} ${verify.stderr.slice(-400)}`);

    // The leak scan (point 7): the database, both server processes' logs, every CLI run's output and the checkpoint file.
    const scan = await scanScenario(stage, [...cliOutputs, { where: 'the audit checkpoint file', text: await readFile(checkpointFile, 'utf8').catch(() => '') }]);
    figures.leakScan = scan.summary;
    failures.push(...scan.leaks);

    return { name: 'crash safety (PostgreSQL, SIGKILL)', ok: failures.length === 0, figures, failures };
  } finally {
    await server?.kill('SIGKILL');
    await stage.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** What every byok CLI run of this scenario printed, for the leak scan. */
const cliOutputs: Haystack[] = [];

/** Runs the byok command line in this process. */
async function cliHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  cliOutputs.push({ where: `the output of byok ${args.slice(0, 2).join(' ')}`, text: stdout + stderr });
  return { code, stdout, stderr };
}

/** Runs the byok CLI from its sources; optionally SIGKILLs it after N progress lines on stderr. */
function cli(args: string[], options: { killAfterProgressLines?: number } = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (options.killAfterProgressLines !== undefined && (stderr.match(/\] \d+\/\d+/g)?.length ?? 0) >= options.killAfterProgressLines) proc.kill('SIGKILL');
    });
    proc.on('exit', (code, signal) => {
      cliOutputs.push({ where: `the output of byok ${args.slice(0, 2).join(' ')} (child process)`, text: stdout + stderr });
      resolve({ code, signal, stdout, stderr });
    });
  });
}

