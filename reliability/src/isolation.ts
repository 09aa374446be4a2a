// The isolation property: users act at random over HTTP (sessions, sends, edits and
// regenerations that branch, stops, resumes, exports, keys, preferences) on whichever
// REST adapter; after every step, nobody has read, changed or learned of another's data.
import { randomUUID } from 'node:crypto';
import { diffSnapshots, snapshotUser } from './fuzz';
import { send } from './http-client';
import { Prng } from './prng';
import { UserApi, streamResult } from './user-api';
import { makeUserRows, refreshUserRows, type UserRows } from './user-data';
import type { AdapterName, World } from './world';

const REST: readonly AdapterName[] = ['express', 'nest', 'fetch'];

export interface IsolationReport {
  seed: number;
  users: number;
  steps: number;
  actions: Record<string, number>;
  probes: number;
  checks: number;
  failures: string[];
  durationMs: number;
}

interface Actor {
  rows: UserRows;
  /** Text only this user ever wrote: it must never show up for anyone else. */
  marker: string;
  eventIds: string[];
}

/** Runs `steps` random steps; returns every violation found (empty when isolation holds). */
export async function runIsolation(world: World, options: { seed: number; steps: number }): Promise<IsolationReport> {
  const started = performance.now();
  const rng = new Prng(options.seed).fork('isolation');
  const actors: Actor[] = [];
  for (const user of world.users) {
    const rows = await makeUserRows(user, world.hosts.express.base);
    actors.push({ rows, marker: `marker-${user.login}-${rng.int(1e5, 1e6)}`, eventIds: [...rows.eventIds] });
  }
  const report: IsolationReport = { seed: options.seed, users: actors.length, steps: 0, actions: {}, probes: 0, checks: 0, failures: [], durationMs: 0 };
  const fail = (step: number, message: string) => report.failures.push(`seed ${options.seed} step ${step}: ${message}`);

  for (let step = 0; step < options.steps && report.failures.length < 50; step++) {
    try {
      await isolationStep(step);
    } catch (error) {
      // A check that could not be made (a read that timed out) is a failure too, but the run goes on.
      fail(step, `a check could not be made: ${(error as Error).message}`);
    }
    report.steps++;
  }
  report.durationMs = performance.now() - started;
  return report;

  async function isolationStep(step: number): Promise<void> {
    const actor = rng.pick(actors);
    const others = actors.filter((a) => a !== actor);
    const api = new UserApi(actor.rows.user, world.hosts[rng.pick(REST)].base, rng.chance(0.4));
    const before = await Promise.all(others.map((o) => snapshotUser(o.rows.user, world.hosts.express.base)));
    const action = rng.pick(['create', 'send', 'send', 'edit', 'regenerate', 'stop', 'resume', 'export', 'keys', 'preferences', 'rename', 'branch', 'delete', 'probe', 'probe', 'probe']);
    report.actions[action] = (report.actions[action] ?? 0) + 1;
    try {
      await act(action, api, actor, others, rng, world, report, (m) => fail(step, `${actor.rows.user.login} ${action}: ${m}`));
    } catch (error) {
      fail(step, `${actor.rows.user.login} ${action} failed: ${(error as Error).message}`);
    }
    // And, every step, someone aims another user's real ids at byok.
    const prober = rng.pick(actors);
    await probe(new UserApi(prober.rows.user, world.hosts[rng.pick(REST)].base, rng.chance(0.4)), rng, actors.filter((a) => a !== prober), report, (m) => fail(step, `${prober.rows.user.login} probe: ${m}`)).catch((error: unknown) => fail(step, `probe failed: ${(error as Error).message}`));
    await refreshUserRows(new UserApi(actor.rows.user, world.hosts.express.base), actor.rows);
    // Nobody else's data changed.
    const after = await Promise.all(others.map((o) => snapshotUser(o.rows.user, world.hosts.express.base)));
    others.forEach((o, i) => {
      const diff = diffSnapshots(before[i]!, after[i]!);
      if (diff) fail(step, `${actor.rows.user.login}'s ${action} changed ${o.rows.user.login}'s data: ${diff}`);
    });
    // Every list and export holds the caller's own rows only.
    for (const a of actors) {
      const foreign = actors.filter((x) => x !== a);
      const own = new UserApi(a.rows.user, world.hosts[rng.pick(REST)].base);
      const listed = await own.call('GET', '/chat/sessions?limit=100');
      const exported = await own.call('GET', '/me/export');
      const audit = await own.call('GET', '/me/audit?limit=100');
      report.checks += 3;
      for (const [what, text] of [['the session list', listed.text], ['the export', exported.text], ['the audit trail', audit.text]] as const) {
        for (const f of foreign) {
          const seen = [f.marker, f.rows.user.userId, `${f.rows.user.login}@reliability.test`, ...f.rows.sessionIds, ...f.rows.messageIds].find((needle) => text.includes(needle));
          if (seen) fail(step, `${what} of ${a.rows.user.login} shows ${f.rows.user.login}'s ${seen}`);
        }
      }
      if (exported.status !== 200) fail(step, `the export of ${a.rows.user.login} answered ${exported.status}`);
    }
  }
}

async function act(action: string, api: UserApi, actor: Actor, others: Actor[], rng: Prng, world: World, report: IsolationReport, fail: (m: string) => void): Promise<void> {
  const rows = actor.rows;
  const session = rows.sessionIds.length ? rng.pick(rows.sessionIds) : (await api.createSession()).json.id;
  const path = `/chat/sessions/${session}`;
  switch (action) {
    case 'create':
      await api.createSession(`${actor.marker} title`);
      return;
    case 'send': {
      const sent = await api.sendMessage(session, `${actor.marker} says ${rng.int(0, 1e6)}`);
      actor.eventIds.push(...sent.eventIds);
      return;
    }
    case 'edit':
    case 'regenerate': {
      const messages = (await api.ok('GET', `${path}/messages?limit=100`)).json.items as Array<{ id: string; role: string }>;
      const target = messages.filter((m) => m.role === (action === 'edit' ? 'user' : 'assistant'));
      if (!target.length) return;
      const id = rng.pick(target).id;
      const answer = await api.call('POST', `${path}/messages/${id}/${action}`, action === 'edit' ? { text: `${actor.marker} edited` } : {});
      if (answer.status >= 500 || answer.failure) fail(`${action} answered ${answer.status} ${answer.failure ?? ''}`);
      actor.eventIds.push(...streamResult(answer).eventIds);
      return;
    }
    case 'stop': {
      const answer = await api.call('POST', `${path}/stop`, {});
      if (answer.status !== 200) fail(`stop answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      return;
    }
    case 'resume': {
      const lastEventId = actor.eventIds.length ? rng.pick(actor.eventIds) : undefined;
      const answer = await api.call('GET', `${path}/stream`, undefined, lastEventId ? { 'last-event-id': lastEventId } : {});
      if (answer.status >= 500 || answer.failure) fail(`resume answered ${answer.status} ${answer.failure ?? ''}`);
      return;
    }
    case 'export': {
      const md = await api.call('GET', `${path}/export.md`);
      if (md.status !== 200) fail(`export.md answered ${md.status}`);
      for (const o of others) if (md.text.includes(o.marker)) fail(`export.md shows ${o.rows.user.login}'s text`);
      return;
    }
    case 'keys': {
      const op = rng.pick(['list', 'get', 'test', 'set']);
      if (op === 'list') await api.ok('GET', '/keys');
      if (op === 'get') await api.ok('GET', '/keys/gemini');
      if (op === 'test') await api.ok('POST', '/keys/gemini/test', {});
      if (op === 'set') await api.ok('PUT', '/keys/gemini', { apiKey: rows.user.providerKey });
      return;
    }
    case 'preferences':
      await api.ok('PATCH', '/me/preferences', { theme: rng.pick(['light', 'dark', 'system']), language: rng.pick(['en', 'de', 'fr-CA']) });
      return;
    case 'rename':
      await api.ok('PATCH', path, { title: `${actor.marker} renamed ${rng.int(0, 999)}` });
      return;
    case 'branch': {
      const messages = (await api.ok('GET', `${path}/messages?limit=100`)).json.items as Array<{ id: string }>;
      if (messages.length) await api.ok('POST', `${path}/branch`, { messageId: rng.pick(messages).id });
      return;
    }
    case 'delete':
      if (rows.sessionIds.length > 2) await api.ok('DELETE', path, undefined, [200, 204]);
      return;
    case 'probe':
      await probe(api, rng, others, report, fail);
      return;
  }
}

/** Another user's real ids, used with the actor's credentials, answer exactly as ids that never existed. */
async function probe(api: UserApi, rng: Prng, others: Actor[], report: IsolationReport, fail: (m: string) => void): Promise<void> {
  // Only users who still have rows can be probed (every session of a user may be deleted by then).
  const victims = others.filter((o) => o.rows.sessionIds.length > 0 && o.rows.messageIds.length > 0);
  if (victims.length === 0) return;
  const victim = rng.pick(victims);
  const session = rng.pick(victim.rows.sessionIds);
  const message = rng.pick(victim.rows.messageIds);
  const nobody = randomUUID();
  const cases: Array<[string, string, (s: string, m: string) => string, unknown, Record<string, string>?]> = [
    ['GET', 'session', (s) => `/chat/sessions/${s}`, undefined],
    ['GET', 'messages', (s) => `/chat/sessions/${s}/messages`, undefined],
    ['GET', 'message', (s, m) => `/chat/sessions/${s}/messages/${m}`, undefined],
    ['GET', 'usage', (s) => `/chat/sessions/${s}/usage`, undefined],
    ['GET', 'context', (s) => `/chat/sessions/${s}/context`, undefined],
    ['GET', 'export.md', (s) => `/chat/sessions/${s}/export.md`, undefined],
    ['GET', 'resume', (s) => `/chat/sessions/${s}/stream`, undefined],
    ['PATCH', 'rename', (s) => `/chat/sessions/${s}`, { title: 'taken over' }],
    ['POST', 'send', (s) => `/chat/sessions/${s}/messages`, { text: 'hijack' }],
    ['POST', 'edit', (s, m) => `/chat/sessions/${s}/messages/${m}/edit`, { text: 'hijack' }],
    ['POST', 'regenerate', (s, m) => `/chat/sessions/${s}/messages/${m}/regenerate`, {}],
    ['POST', 'branch', (s) => `/chat/sessions/${s}/branch`, { messageId: message }],
    ['POST', 'stop', (s) => `/chat/sessions/${s}/stop`, {}],
    ['DELETE', 'delete', (s) => `/chat/sessions/${s}`, undefined],
    ['DELETE', 'revoke sign-in', (_s, m) => `/auth/sessions/${m}`, undefined],
  ];
  const [method, what, build, body] = rng.pick(cases);
  const realMessage = what === 'revoke sign-in' ? rng.pick(victim.rows.authSessionIds.length ? victim.rows.authSessionIds : [message]) : message;
  const send = (s: string, m: string, extra: Record<string, string> = {}) => api.call(method, build(s, m), body === undefined ? undefined : { ...(body as object), sessionId: s }, extra);
  // The victim's real ids, then ids that never existed, then the victim's real SSE id on the actor's own session.
  const real = await send(session, realMessage, what === 'resume' && victim.eventIds.length ? { 'last-event-id': rng.pick(victim.eventIds) } : {});
  const made = await send(nobody, randomUUID());
  report.probes++;
  const shape = (a: { status: number; json: any }) => `${a.status} ${a.json?.error?.code ?? ''} ${a.json?.error?.message ?? ''}`;
  if (real.status < 400) fail(`${method} ${what} on ${victim.rows.user.login}'s row answered ${real.status}: ${real.text.slice(0, 200)}`);
  else if (shape(real) !== shape(made)) fail(`${method} ${what} tells ${victim.rows.user.login}'s real row (${shape(real)}) from one that never existed (${shape(made)})`);
  else if (real.status !== 404 && !(what === 'resume' && real.status === 204)) fail(`${method} ${what} on another user's row answered ${shape(real)}, not 404`);
  const own = (await api.ok('GET', '/chat/sessions?limit=100')).json.items as Array<{ id: string }>;
  const ownSession = own.length > 0 ? rng.pick(own).id : undefined;
  if (ownSession && victim.eventIds.length) {
    const stolen = await api.call('GET', `/chat/sessions/${ownSession}/stream`, undefined, { 'last-event-id': rng.pick(victim.eventIds) });
    report.probes++;
    if (victim.marker && stolen.text.includes(victim.marker)) fail(`a resume with ${victim.rows.user.login}'s SSE id showed their text`);
    if (stolen.status >= 500 || stolen.failure) fail(`a resume with another user's SSE id answered ${stolen.status} ${stolen.failure ?? ''}`);
  }
  void send;
}
