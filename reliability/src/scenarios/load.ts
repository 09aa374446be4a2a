// Issue 11.4, load: simulated users sign in through the dev issuer, store keys and chat
// (streaming; some stop their reply, some drop the connection and resume it) against one
// byok server process on PostgreSQL. Reported: errors, messages stored against messages
// sent, latency and time to first token (p50/p99), the server's RSS over time and its
// event-loop delay p99 (measured inside the server with perf_hooks.monitorEventLoopDelay).
// The figures cover a measured window after a warm-up at the same load: under a sudden
// load V8 grows its heap for a while (heapTotal climbs while the live heap stays flat),
// which is not growth over time. The warm-up's RSS is reported too, and so is the live
// heap (after a full GC) halfway through the warm-up and at the end, which is where a leak
// would show.
import {
  api,
  geminiKey,
  isFull,
  listMessages,
  newSession,
  percentile,
  pool,
  putKey,
  resumeChat,
  scanScenario,
  sendChat,
  signIn,
  sleep,
  spawnServer,
  startStage,
  stepLog,
  type ScenarioResult,
  type ServerProcess,
  type User,
} from './support';

export interface LoadOptions {
  users?: number;
  /** The measured window. */
  durationMs?: number;
  /** The same load before the window, not measured. */
  warmupMs?: number;
}

interface Turn {
  kind: 'plain' | 'stop' | 'reconnect';
  text: string;
  /** What the client ends up with: the streamed (and, on reconnect, resumed) text. */
  seen: string;
  assistantMessageId?: string;
}

/** A small seeded generator, so a run's mix of behaviours is reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runLoad(options: LoadOptions = {}): Promise<ScenarioResult> {
  const full = isFull();
  const userCount = options.users ?? (full ? 200 : 20);
  const durationMs = options.durationMs ?? (full ? 60_000 : 10_000);
  const warmupMs = options.warmupMs ?? (full ? 60_000 : 4_000);
  const failures: string[] = [];
  const figures: Record<string, number | string> = { users: userCount, durationS: durationMs / 1000, warmupS: warmupMs / 1000 };
  const log = stepLog('load');
  const stage = await startStage({ serverCount: 1, chunks: 12, chunkDelayMs: 25 });
  let server: ServerProcess | null = null;
  try {
    server = await spawnServer(stage.config(stage.ports[0]!, { leaseMs: 10_000 }));
    const base = server.base;
    const signInStarted = Date.now();
    const signInMs: number[] = [];
    const users = await pool(
      Array.from({ length: userCount }, (_, i) => `load-${i}`),
      16,
      async (login) => {
        const t = performance.now();
        const user = await signIn(stage.issuer, base, login);
        await putKey(base, user, 'gemini', geminiKey(login));
        signInMs.push(performance.now() - t);
        return user;
      },
    );
    figures.signInAndKeyP50Ms = percentile(signInMs, 50);
    figures.signInAndKeyP99Ms = percentile(signInMs, 99);
    figures.signInPhaseS = Math.round((Date.now() - signInStarted) / 100) / 10;
    log(`${users.length} users signed in with keys`);

    const seed = Number(process.env.BYOK_RELIABILITY_SEED ?? 11);
    figures.seed = seed;
    const random = mulberry32(seed);
    const latency: number[] = [];
    const firstToken: number[] = [];
    const errors: string[] = [];
    const turns = new Map<string, Turn[]>();
    const sessionsOf = new Map<User, string[]>();
    const counts = { plain: 0, stop: 0, reconnect: 0 };

    // Samples carry their time from the window's start (negative during the warm-up).
    const rss: Array<{ t: number; rss: number; heap: number; heapTotal: number; external: number }> = [];
    let sampling = true;
    const started = Date.now() + warmupMs;
    const deadline = started + durationMs;
    const sampler = (async () => {
      while (sampling) {
        const s = await server!.stats().catch(() => null);
        if (s) rss.push({ t: Date.now() - started, rss: s.rss, heap: s.heapUsed, heapTotal: s.heapTotal, external: s.external });
        await sleep(durationMs / 30);
      }
    })();
    // The first live-heap reading is taken halfway through the warm-up: a full GC shrinks
    // the heap, and V8 needs a while at this load to grow it back to where it settles.
    let liveHeapAtStart = 0;
    const windowOpened = (async () => {
      await sleep(warmupMs / 2);
      liveHeapAtStart = (await server!.stats({ gc: true })).heapUsed;
      await sleep(Math.max(0, started - Date.now()));
      await server!.resetStats();
    })();

    const userLoop = async (user: User) => {
      const sessions: string[] = [];
      sessionsOf.set(user, sessions);
      let sessionId = '';
      let turnInSession = 0;
      // Users start spread over the first second.
      await sleep(random() * 1_000);
      while (Date.now() < deadline) {
        if (turnInSession % 4 === 0) {
          try {
            sessionId = await newSession(base, user);
          } catch (e) {
            errors.push(`${user.login}: ${(e as Error).message}`);
            await sleep(500);
            continue;
          }
          sessions.push(sessionId);
          turns.set(sessionId, []);
        }
        turnInSession++;
        const roll = random();
        const kind: Turn['kind'] = roll < 0.1 ? 'stop' : roll < 0.2 ? 'reconnect' : 'plain';
        counts[kind]++;
        const turn: Turn = { kind, text: `${user.login} turn ${turnInSession} ${Math.floor(random() * 1e9)}`, seen: '' };
        const measured = Date.now() >= started;
        turns.get(sessionId)!.push(turn);
        let stopped: Promise<void> | null = null;
        const read = await sendChat(
          base,
          user,
          sessionId,
          { text: turn.text },
          {
            timeoutMs: 30_000,
            cutWhen: kind === 'reconnect' ? (r) => r.events.filter((e) => e.chunk?.type === 'text-delta').length >= 3 : undefined,
            onEvent: (r, e) => {
              // Stop this reply by its id (a late stop must not hit the user's next reply).
              if (kind === 'stop' && !stopped && e.chunk?.type === 'text-delta' && r.turn) {
                stopped = api(base, user, 'POST', `/chat/sessions/${sessionId}/stop`, { messageId: r.turn.assistantMessageId }).then((s) => {
                  if (s.status !== 200) errors.push(`stop answered ${s.status} ${JSON.stringify(s.body)}`);
                });
              }
            },
          },
        );
        await stopped;
        if (read.status !== 200) {
          errors.push(`send answered ${read.status} ${JSON.stringify(read.error)}`);
          continue;
        }
        turn.assistantMessageId = read.turn?.assistantMessageId;
        if (read.firstTokenMs !== undefined && measured) firstToken.push(read.firstTokenMs);
        turn.seen = read.text;
        if (kind === 'reconnect') {
          const rest = await resumeChat(base, user, sessionId, read.lastEventId, { timeoutMs: 30_000 });
          if (rest.status !== 200 || !rest.done || rest.end !== 'finish') errors.push(`resume answered ${rest.status} end=${rest.end} ${JSON.stringify(rest.error)}`);
          turn.seen += rest.text;
        } else if (kind === 'stop') {
          if (!read.done || (read.end !== 'abort' && read.end !== 'finish')) errors.push(`a stopped reply ended ${read.end}`);
        } else {
          if (!read.done || read.end !== 'finish') errors.push(`a reply ended ${read.end} ${read.errorText ?? ''}`);
          else if (measured) latency.push(read.totalMs);
        }
      }
    };
    await Promise.all(users.map(userLoop));
    sampling = false;
    await sampler;
    await windowOpened;
    const stats = await server.stats();
    const liveHeapAtEnd = (await server.stats({ gc: true })).heapUsed;
    log('load done');

    const totalTurns = counts.plain + counts.stop + counts.reconnect;
    figures.turns = totalTurns;
    figures.turnsPerS = Math.round((totalTurns / ((Date.now() - started + warmupMs) / 1000)) * 10) / 10;
    figures.stopped = counts.stop;
    figures.reconnected = counts.reconnect;
    figures.errors = errors.length;
    figures.latencyP50Ms = percentile(latency, 50);
    figures.latencyP99Ms = percentile(latency, 99);
    figures.firstTokenP50Ms = percentile(firstToken, 50);
    figures.firstTokenP99Ms = percentile(firstToken, 99);
    figures.eventLoopDelayP99Ms = Math.round(stats.eventLoopDelayMs.p99 * 10) / 10;
    figures.eventLoopDelayMaxMs = Math.round(stats.eventLoopDelayMs.max * 10) / 10;
    const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
    const half = durationMs / 2;
    const inWindow = rss.filter((s) => s.t >= 0);
    const first = inWindow.filter((s) => s.t < half).map((s) => s.rss);
    const second = inWindow.filter((s) => s.t >= half).map((s) => s.rss);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    figures.rssFirstHalfMeanMb = mb(mean(first));
    figures.rssSecondHalfMeanMb = mb(mean(second));
    figures.heapUsedFirstHalfMeanMb = mb(mean(inWindow.filter((s) => s.t < half).map((s) => s.heap)));
    figures.heapUsedSecondHalfMeanMb = mb(mean(inWindow.filter((s) => s.t >= half).map((s) => s.heap)));
    figures.liveHeapInWarmupMb = mb(liveHeapAtStart);
    figures.liveHeapAtEndMb = mb(liveHeapAtEnd);
    const series = (pick: (s: (typeof rss)[number]) => number) => rss.filter((_, i) => i % 3 === 0).map((s) => `${Math.round(s.t / 1000)}s:${mb(pick(s))}`).join(' ');
    figures.rssOverTimeMb = series((s) => s.rss);
    figures.heapTotalOverTimeMb = series((s) => s.heapTotal);
    figures.rssMaxMb = mb(Math.max(...inWindow.map((s) => s.rss)));
    const growth = (mean(second) - mean(first)) / mean(first);
    figures.rssSecondVsFirstHalfPct = Math.round(growth * 1000) / 10;
    // Drift inside the second half: its last sample against its first (a leak keeps climbing).
    if (second.length > 1) figures.rssSecondHalfDriftPct = Math.round(((second.at(-1)! - second[0]!) / second[0]!) * 1000) / 10;
    if (first.length === 0 || second.length === 0) failures.push('RSS was not sampled in both halves of the window');
    // Growth is what a leak makes; V8 handing heap back (RSS lower in the second half, seen
    // down to -11% with a flat live heap) is not one.
    else if (!(growth <= 0.1)) failures.push(`RSS in the second half is ${figures.rssSecondVsFirstHalfPct}% above the first half`);
    for (const e of errors.slice(0, 20)) failures.push(e);
    if (errors.length > 20) failures.push(`… and ${errors.length - 20} more errors`);
    if (totalTurns === 0) failures.push('no turns ran');

    // Every message stored: each sent user message once, each reply settled with the text the client has.
    let storedUser = 0;
    let missing = 0;
    let textMismatch = 0;
    const statuses: Record<string, number> = {};
    await pool([...sessionsOf.entries()].flatMap(([user, ids]) => ids.map((id) => [user, id] as const)), 16, async ([user, id]) => {
      const messages = await listMessages(base, user, id);
      for (const turn of turns.get(id) ?? []) {
        const u = messages.filter((m) => m.role === 'user' && m.text === turn.text);
        if (u.length === 1) storedUser++;
        else {
          missing++;
          failures.push(`session ${id}: the user message "${turn.text}" is stored ${u.length} times`);
        }
        const reply = messages.find((m) => m.id === turn.assistantMessageId);
        if (!reply) continue;
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
        const expected = turn.kind === 'stop' ? reply.status === 'incomplete' || reply.status === 'complete' : reply.status === 'complete';
        if (!expected || reply.text !== turn.seen) {
          textMismatch++;
          if (textMismatch <= 10) failures.push(`session ${id}: a ${turn.kind} reply is stored ${reply.status} with ${reply.text.length} chars, the client has ${turn.seen.length}`);
        }
      }
    });
    figures.userMessagesStored = storedUser;
    figures.userMessagesMissingOrDuplicated = missing;
    figures.repliesNotAsSeen = textMismatch;
    figures.replyStatuses = Object.entries(statuses).map(([k, v]) => `${k}:${v}`).join(' ');
    // The leak scan (point 7): the database and the server's log.
    const scan = await scanScenario(stage);
    figures.leakScan = scan.summary;
    failures.push(...scan.leaks);
    return { name: `load (${userCount} users, ${durationMs / 1000} s after ${warmupMs / 1000} s of warm-up, PostgreSQL)`, ok: failures.length === 0, figures, failures };
  } finally {
    await server?.kill('SIGTERM');
    await stage.close();
  }
}
