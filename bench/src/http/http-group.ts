import { loadavg } from 'node:os';
import { compare, median, ratioFigure, type Figure } from '../harness';
import { GEMINI_KEY, MODEL, startBenchByok, type HttpBenchByok } from './bench-byok';
import { FRAMEWORKS, startExpressAdapter, type Framework, type Served } from './framework-servers';
import { startLoadProcess, type LoadProcess } from './load-process';

/**
 * autocannon's connections per run, the seconds of a timed run and of the warm-up run,
 * and the rounds: many short interleaved rounds, so that load from outside the bench
 * (this machine is shared) hits both sides alike and the median round stays clean.
 */
const CONNECTIONS = 10;
const RUN_SECONDS = 1;
const WARMUP_SECONDS = 1;
const ROUNDS = 15;
/** Chat turns per side per round of the first-byte comparison, each on its own new session. */
const TURNS = 25;
const STREAM_ROUNDS = 9;
const TURN_TEXT = 'Say hello in three words';

/** Checks a key-status URL answers the signed-in user's Gemini key status before it is timed. */
async function checkKeyStatus(url: string, headers: Record<string, string>, framework: Framework, side: string): Promise<void> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${framework} ${side}: ${response.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { provider?: string; last4?: string; result?: { data?: { provider?: string; last4?: string; hasKey?: boolean } } };
  const status = framework === 'trpc' ? body.result?.data : body;
  if (status?.provider !== 'gemini' || status.last4 !== GEMINI_KEY.slice(-4) || (framework === 'trpc' && body.result?.data?.hasKey !== true)) {
    throw new Error(`${framework} ${side} did not answer the key status: ${text.slice(0, 300)}`);
  }
}

/** One framework's ratio: requests/s of its bare route over requests/s through byok's adapter. */
async function frameworkRatio(b: HttpBenchByok, load: LoadProcess, framework: Framework): Promise<Figure> {
  const pair = await FRAMEWORKS[framework](b.byok);
  try {
    const headers = { authorization: `Bearer ${await b.signIn()}` };
    await checkKeyStatus(pair.adapter.url, headers, framework, 'adapter');
    await checkKeyStatus(pair.bare.url, headers, framework, 'bare');
    const seen = { adapter: [] as number[], bare: [] as number[] };
    // This process's CPU time per request served, per round: what the server side spends on
    // a request whatever else the machine is running (the rps figure is wall-clock).
    const cpu = { adapter: [] as number[], bare: [] as number[] };
    /** One autocannon run against a side; returns ms per request (1000 / requests per second). */
    const side = (served: Served, name: 'adapter' | 'bare') => {
      let runs = 0;
      return async () => {
        const warmup = runs++ === 0;
        const cpuStart = process.cpuUsage();
        const result = await load.rps({ url: served.url, headers, connections: CONNECTIONS, durationSec: warmup ? WARMUP_SECONDS : RUN_SECONDS });
        const used = process.cpuUsage(cpuStart);
        if (result.non2xx || result.errors || result.timeouts || result.ok === 0) {
          throw new Error(`${framework} ${name}: ${result.ok} ok, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
        }
        if (!warmup) {
          seen[name].push(result.rps);
          cpu[name].push((used.user + used.system) / result.ok);
        }
        return 1000 / result.rps;
      };
    };
    // ours = the adapter: ratio = adapter ms per request / bare ms per request = bare rps / adapter rps
    const c = await compare(side(pair.adapter, 'adapter'), side(pair.bare, 'bare'), { rounds: ROUNDS, warmup: 1 });
    const figure = ratioFigure(`http.${framework}_ratio`, c, '≤ 1.25');
    const load1 = loadavg()[0]!.toFixed(1);
    const cpuRatios = cpu.adapter.map((a, i) => a / cpu.bare[i]!);
    const note =
      `bare ${Math.round(median(seen.bare))}/s, adapter ${Math.round(median(seen.adapter))}/s (median rps; ratio = bare/adapter); ` +
      `server CPU per request: bare ${Math.round(median(cpu.bare))} µs, adapter ${Math.round(median(cpu.adapter))} µs, ` +
      `ratio ${median(cpuRatios).toFixed(3)} (${Math.min(...cpuRatios).toFixed(3)}–${Math.max(...cpuRatios).toFixed(3)}); machine load ${load1}`;
    console.log(`  http.${framework}_ratio ${figure.value.toFixed(3)} (${figure.min!.toFixed(3)}–${figure.max!.toFixed(3)}); ${note}`);
    return { ...figure, note };
  } finally {
    await pair.adapter.close();
    await pair.bare.close();
  }
}

/**
 * http.stream_first_byte_ms: p50 time to the first byte of a streamed chat reply's body
 * through the Express adapter (timed in the load process, from the POST's start) minus p50
 * time to the first event of `byok.chat.send` called in this process; per round, interleaved.
 */
async function streamFirstByte(b: HttpBenchByok, load: LoadProcess): Promise<Figure> {
  const served = await startExpressAdapter(b.byok);
  try {
    const token = await b.signIn();
    const sessions = async (): Promise<string[]> => {
      b.gemini.reset();
      const ids: string[] = [];
      for (let i = 0; i < TURNS; i++) ids.push((await b.byok.chat.createSession(b.userId, { provider: 'gemini', model: MODEL })).id);
      return ids;
    };
    const floors: number[] = [];
    const serverSide: number[] = [];
    const overHttp = async () => {
      served.firstWrites.length = 0;
      const p50 = median(await load.firstBytes({ base: served.url, token, sessionIds: await sessions(), text: TURN_TEXT }));
      // untimed by the comparison: the same client's first byte from a route that answers at once
      serverSide.push(median(served.firstWrites));
      floors.push(median(await load.pings({ url: served.pingUrl, count: TURNS })));
      return p50;
    };
    const inProcess = async () => {
      const times: number[] = [];
      for (const sessionId of await sessions()) {
        const start = process.hrtime.bigint();
        const events = b.byok.chat.send(b.userId, sessionId, { text: TURN_TEXT })[Symbol.asyncIterator]();
        const first = await events.next();
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (first.done) throw new Error('chat.send streamed nothing');
        let deltas = 0;
        for (let next = await events.next(); !next.done; next = await events.next()) if (next.value.chunk.type === 'text-delta') deltas++;
        if (deltas === 0) throw new Error('chat.send streamed no text');
      }
      return median(times);
    };
    const c = await compare(overHttp, inProcess, { rounds: STREAM_ROUNDS, warmup: 1 });
    const differences = c.ours.map((http, i) => http - c.baseline[i]!);
    const note =
      `p50 over HTTP ${median(c.ours).toFixed(2)} ms, in process ${median(c.baseline).toFixed(2)} ms (${TURNS} turns per side per round); ` +
      `in the server, arrival in Express to first byte written ${median(serverSide).toFixed(2)} ms; ` +
      `loopback floor (first byte of an Express route that answers at once) ${median(floors).toFixed(2)} ms; machine load ${loadavg()[0]!.toFixed(1)}`;
    const figure: Figure = {
      metric: 'http.stream_first_byte_ms',
      value: median(differences),
      min: Math.min(...differences),
      max: Math.max(...differences),
      unit: 'ms',
      target: '≤ 3',
      note,
    };
    console.log(`  http.stream_first_byte_ms ${figure.value.toFixed(3)} (${figure.min!.toFixed(3)}–${figure.max!.toFixed(3)}); ${note}`);
    return figure;
  } finally {
    await served.close();
  }
}

/**
 * The `http` group (issue 10 point 13): per framework, an authenticated key-status request
 * (GET the user's Gemini key status with a real byok access token) through byok's adapter
 * against a bare route in the same framework doing the same `authenticate` and
 * `keyVault.getStatus`, load from autocannon in a second process on loopback; and the
 * first byte of a streamed chat reply through Express against `chat.send` in process.
 */
export async function runHttpGroup(): Promise<Figure[]> {
  const b = await startBenchByok();
  const load = await startLoadProcess();
  try {
    const figures: Figure[] = [];
    for (const framework of Object.keys(FRAMEWORKS) as Framework[]) figures.push(await frameworkRatio(b, load, framework));
    figures.push(await streamFirstByte(b, load));
    return figures;
  } finally {
    await load.close();
    await b.close();
  }
}

/** Run by groups/http-bench.ts as a forked process: the figures go back over IPC. */
if (process.send && process.env.BYOK_HTTP_GROUP_CHILD === '1') {
  runHttpGroup().then(
    (figures) => process.send!({ figures }, () => process.exit(0)),
    (error: unknown) => process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.exit(1)),
  );
}
