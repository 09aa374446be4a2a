// The http group's second process: it makes the load (autocannon) and the timed streamed
// requests, so the server under test has its process to itself. Driven over the fork IPC
// channel by load-process.ts; one command at a time.
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import type { LoadCommand, LoadReply, RpsResult } from './load-protocol';

async function rps(command: Extract<LoadCommand, { kind: 'rps' }>): Promise<RpsResult> {
  const result = await autocannon({
    url: command.url,
    headers: command.headers,
    connections: command.connections,
    duration: command.durationSec,
    pipelining: 1,
  });
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

/**
 * Sequential chat turns, one per session: each POST's time from the request's start to
 * the first byte of the streamed reply's body; the rest of the reply is read before the
 * next turn starts. One kept-alive connection, as a browser tab has.
 */
async function firstBytes(command: Extract<LoadCommand, { kind: 'first-byte' }>): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ text: command.text });
  const times: number[] = [];
  try {
    for (const sessionId of command.sessionIds) {
      times.push(
        await new Promise<number>((resolve, reject) => {
          const start = process.hrtime.bigint();
          let first: number | undefined;
          const req = request(
            `${command.base}/chat/sessions/${sessionId}/messages`,
            {
              method: 'POST',
              agent,
              headers: { authorization: `Bearer ${command.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
            },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                first ??= Number(process.hrtime.bigint() - start) / 1e6;
                text += chunk;
              });
              res.on('end', () => {
                if (res.statusCode !== 200 || !text.includes('data: [DONE]') || !text.includes('"text-delta"')) {
                  reject(new Error(`the streamed reply failed: ${res.statusCode} ${text.slice(0, 300)}`));
                } else resolve(first!);
              });
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end(body);
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return times;
}

/** The loopback round trip's floor: time to the first body byte of a route that answers at once. */
async function pings(command: Extract<LoadCommand, { kind: 'ping' }>): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  try {
    for (let i = 0; i < command.count; i++) {
      times.push(
        await new Promise<number>((resolve, reject) => {
          const start = process.hrtime.bigint();
          let first: number | undefined;
          const req = request(command.url, { agent }, (res) => {
            res.on('data', () => (first ??= Number(process.hrtime.bigint() - start) / 1e6));
            res.on('end', () => (res.statusCode === 200 && first !== undefined ? resolve(first) : reject(new Error(`ping: ${res.statusCode}`))));
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end();
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return times;
}

process.on('message', (message: { id: number; command: LoadCommand }) => {
  const { id, command } = message;
  const work: Promise<RpsResult | number[]> = command.kind === 'rps' ? rps(command) : command.kind === 'ping' ? pings(command) : firstBytes(command);
  work.then(
    (result) => process.send!({ id, result } satisfies LoadReply),
    (error: unknown) => process.send!({ id, error: error instanceof Error ? error.message : String(error) } satisfies LoadReply),
  );
});
process.send!({ id: 0, result: 'ready' } satisfies LoadReply);
