// The fuzzer: for every operation of byok's registry (read from the OpenAPI document the
// registry generates) and every adapter, seeded malformed and hostile requests; each
// answer is checked (no 5xx, no dropped connection, no hang, a typed error), and so is
// what must not change: Object.prototype, and every other user's data.
import { openApiDocument } from '@byok/core/http';
import { send, type Answer, type SentRequest } from './http-client';
import { deepJson, forgedCursor, forgedEventId, forgedUseChatBody, hostileValue, invalidUtf8, oddId, withPollutionKeys, type Known } from './hostile-values';
import { Prng } from './prng';
import { MODEL, UserApi } from './user-api';
import { makeUserRows, refreshUserRows, type UserRows } from './user-data';
import { ADAPTERS, APP_ORIGIN, type AdapterName, type SignedInUser, type World } from './world';

/** One operation as the fuzzer sees it. */
export interface FuzzOperation {
  name: string;
  method: string;
  /** The path template, `{param}` style. */
  path: string;
  pathParams: string[];
  queryParams: Array<{ name: string; schema: Record<string, any> }>;
  bodySchema: Record<string, any> | null;
  auth: boolean;
  stream: boolean;
}

/** Every operation of the registry, from its OpenAPI document. */
export function fuzzOperations(world: World): FuzzOperation[] {
  const doc = openApiDocument(world.byok.http.operations()) as { paths: Record<string, Record<string, any>> };
  const out: FuzzOperation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []) as Array<{ name: string; in: string; schema: Record<string, any> }>;
      const success = Object.values(op.responses ?? {})[0] as { content?: Record<string, unknown> } | undefined;
      out.push({
        name: op.operationId,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        bodySchema: op.requestBody?.content?.['application/json']?.schema ?? null,
        auth: Array.isArray(op.security),
        stream: Boolean(success?.content?.['text/event-stream']),
      });
    }
  }
  return out;
}

export interface FuzzFailure {
  seed: number;
  adapter: AdapterName;
  index: number;
  operation: string;
  strategy: string;
  problem: string;
  request: { method: string; url: string; headers: Record<string, string>; body?: string; fullBody?: string };
  answer: { status: number; headers: Record<string, string>; text: string; failure?: string | undefined; detail?: string | undefined };
}

export interface AdapterFigures {
  adapter: AdapterName;
  requests: number;
  byStatus: Record<string, number>;
  strategies: Record<string, number>;
  operations: number;
  durationMs: number;
  maxMs: number;
  failures: number;
}

export interface FuzzReport {
  seed: number;
  database: string;
  perAdapter: AdapterFigures[];
  failures: FuzzFailure[];
  operations: string[];
  durationMs: number;
}

export interface FuzzOptions {
  seed: number;
  requestsPerAdapter: number;
  /** Deadline of one request (headers and the whole body, streams included). */
  timeoutMs?: number;
  concurrency?: number;
  adapters?: readonly AdapterName[];
  /** Every this many requests, the victims' data and Object.prototype are checked. */
  checkEvery?: number;
}

const STRATEGIES = ['schema', 'schema', 'wrong-type', 'pollution', 'odd-id', 'odd-id', 'huge', 'deep', 'invalid-utf8', 'invalid-json', 'headers', 'method', 'raw', 'auth', 'cursor', 'resume', 'use-chat'] as const;
type Strategy = (typeof STRATEGIES)[number];

/** The ops that end the attacker's own account or sessions: when one succeeds, a new attacker signs in. */
const SELF_ENDING = new Set(['me.delete', 'auth.logout', 'auth.logout_all', 'auth.sessions.revoke', 'auth.refresh']);

/** Runs the fuzzer; the victims are `world.users` but the first, the attacker is a user of its own. */
export async function runFuzz(world: World, options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 15_000;
  const ops = fuzzOperations(world);
  const victims = await Promise.all(world.users.map((u) => makeUserRows(u, world.hosts.express.base)));
  const protoBefore = protoSnapshot();
  const failures: FuzzFailure[] = [];
  const perAdapter: AdapterFigures[] = [];
  const victimState = await Promise.all(victims.map((v) => snapshotUser(v.user, world.hosts.express.base)));
  let attackers = 0;

  for (const adapter of options.adapters ?? ADAPTERS) {
    const rng = new Prng(options.seed).fork(adapter);
    const figures: AdapterFigures = { adapter, requests: 0, byStatus: {}, strategies: {}, operations: ops.length, durationMs: 0, maxMs: 0, failures: 0 };
    const adapterStart = performance.now();
    let attacker = await newAttacker(world, ++attackers);
    const known = (): Known => ({
      ownIds: [...attacker.sessionIds, ...attacker.messageIds, ...attacker.authSessionIds],
      ownEventIds: attacker.eventIds,
      otherIds: victims.flatMap((v) => [...v.sessionIds, ...v.messageIds, ...v.authSessionIds, v.user.userId]),
      otherEventIds: victims.flatMap((v) => v.eventIds),
      otherTokens: victims.map((v) => v.user.accessToken),
    });
    // Generated up front from the seed, so the sequence of requests does not depend on answers.
    const plan = Array.from({ length: options.requestsPerAdapter }, (_, index) => {
      const op = ops[index % ops.length]!;
      return { index, op, strategy: rng.pick(STRATEGIES), rng: rng.fork(`${adapter}:${index}`) };
    });
    const concurrency = options.concurrency ?? 2;
    const checkEvery = options.checkEvery ?? 200;
    for (let at = 0; at < plan.length; at += checkEvery) {
      const slice = plan.slice(at, at + checkEvery);
      let next = 0;
      let selfEnded = false;
      await attacker.user.freshen();
      for (const v of victims) await v.user.freshen();
      const k = known();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let item = slice[next++]; item; item = slice[next++]) {
            const request = buildRequest(world, adapter, item.op, item.strategy, item.rng, k, attacker.user);
            const answer = await send(request, timeoutMs);
            figures.requests++;
            figures.byStatus[answer.status] = (figures.byStatus[answer.status] ?? 0) + 1;
            figures.strategies[item.strategy] = (figures.strategies[item.strategy] ?? 0) + 1;
            figures.maxMs = Math.max(figures.maxMs, answer.ms);
            const problem = checkAnswer(world, adapter, item.op, request, answer);
            if (problem) failures.push(failure(options.seed, adapter, item.index, item.op.name, item.strategy, problem, request, answer));
            if (SELF_ENDING.has(item.op.name) && answer.status >= 200 && answer.status < 300) selfEnded = true;
          }
        }),
      );
      // What must not have changed, after every batch.
      const polluted = protoProblem(protoBefore);
      if (polluted) failures.push(failure(options.seed, adapter, at, '(batch)', 'after batch', polluted, { method: '-', url: '-', headers: {} }, null));
      for (let i = 0; i < victims.length; i++) {
        const now = await snapshotUser(victims[i]!.user, world.hosts.express.base);
        const diff = diffSnapshots(victimState[i]!, now);
        if (diff) failures.push(failure(options.seed, adapter, at, '(batch)', 'after batch', `victim ${victims[i]!.user.login}'s data changed: ${diff}`, { method: '-', url: '-', headers: {} }, null));
      }
      if (selfEnded || !(await stillSignedIn(world, attacker.user))) attacker = await newAttacker(world, ++attackers);
      else await refreshUserRows(new UserApi(attacker.user, world.hosts.express.base), attacker).catch(() => undefined);
    }
    figures.durationMs = performance.now() - adapterStart;
    figures.failures = failures.filter((f) => f.adapter === adapter).length;
    perAdapter.push(figures);
  }
  return { seed: options.seed, database: world.kind, perAdapter, failures, operations: ops.map((o) => o.name), durationMs: performance.now() - started };
}

async function newAttacker(world: World, n: number): Promise<UserRows> {
  const user = await world.signIn(`mallory${n}`);
  // An attacker is not a victim: keep it out of the world's list the isolation checks use.
  world.users.splice(world.users.indexOf(user), 1);
  return makeUserRows(user, world.hosts.express.base);
}

async function stillSignedIn(world: World, user: SignedInUser): Promise<boolean> {
  const answer = await new UserApi(user, world.hosts.express.base).call('GET', '/me');
  return answer.status === 200;
}

// ---------------------------------------------------------------- requests

function buildRequest(world: World, adapter: AdapterName, op: FuzzOperation, strategy: Strategy, rng: Prng, known: Known, attacker: SignedInUser): SentRequest {
  const host = world.hosts[adapter];
  const auth = authHeaders(rng, strategy, attacker, known);
  if (adapter === 'trpc') return trpcRequest(host.base, op, strategy, rng, known, auth);
  const own = known.ownIds.length ? rng.pick(known.ownIds) : 'x';
  const params: Record<string, string> = {};
  for (const name of op.pathParams) params[name] = strategy === 'odd-id' ? oddId(rng, known) : rng.chance(0.7) ? own : oddId(rng, known);
  let path = op.path.replace(/\{([A-Za-z_]+)\}/g, (_m, name: string) => encodeSegment(rng, params[name]!, strategy));
  const query = new URLSearchParams();
  for (const q of op.queryParams) {
    if (rng.chance(0.5)) continue;
    const value = q.name === 'cursor' || strategy === 'cursor' ? forgedCursor(rng, known) : rng.chance(0.5) ? sampleOf(q.schema, rng, known) : hostileValue(rng, known);
    query.append(q.name, typeof value === 'string' ? value : JSON.stringify(value));
  }
  if (strategy === 'cursor') query.set('cursor', forgedCursor(rng, known));
  if (rng.chance(0.1)) query.append(rng.pick(['__proto__', 'constructor[prototype][polluted]', '__proto__[polluted]', 'limit']), rng.pick(['yes', '1', '-1', '9999999']));
  const qs = query.toString();
  if (qs) path += `?${qs}`;
  const url = `${host.base}${path}`;
  const headers: Record<string, string> = { ...auth };
  let method = op.method;
  let body: string | Buffer | undefined;
  const bodyObject = () => buildBody(op, rng, known, params);
  if (op.method !== 'GET' && op.method !== 'DELETE') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(bodyObject());
  }
  switch (strategy) {
    case 'wrong-type':
      headers['content-type'] = 'application/json';
      body = JSON.stringify(rng.pick([[bodyObject()], 'text', 42, null, true, [], [[1]], { ...bodyObject(), ...Object.fromEntries(Object.keys(bodyObject()).map((k) => [k, hostileValue(rng, known)])) }]));
      if (op.method === 'GET') method = rng.pick(['GET', 'POST']);
      break;
    case 'pollution':
      headers['content-type'] = 'application/json';
      body = withPollutionKeys(rng, JSON.stringify(bodyObject()));
      break;
    case 'huge':
      headers['content-type'] = 'application/json';
      body = rng.chance(0.5) ? JSON.stringify({ ...bodyObject(), text: 'x'.repeat(1_100_000) }) : JSON.stringify({ ...bodyObject(), text: 'y'.repeat(rng.int(100_001, 900_000)) });
      break;
    case 'deep':
      headers['content-type'] = 'application/json';
      body = rng.chance(0.5) ? deepJson(rng.int(65, 20_000), rng.pick(['array', 'object'])) : `{"sessionId":"x","parts":${deepJson(rng.int(60, 5000), 'array')}}`;
      break;
    case 'invalid-utf8':
      headers['content-type'] = rng.pick(['application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1']);
      body = invalidUtf8(rng, JSON.stringify(bodyObject()));
      break;
    case 'invalid-json':
      headers['content-type'] = 'application/json';
      body = rng.pick(['{', '{"a":}', '{"a":1}}', '\ufeff{"a":1}', 'nul', '{"a":1,}', "{'a':1}", '{"a":"\\u12"}', '1e99999', '{"a":01}', '']);
      break;
    case 'headers':
      Object.assign(headers, oddHeaders(rng, known));
      break;
    case 'method':
      method = rng.pick(['PUT', 'PATCH', 'DELETE', 'POST', 'GET', 'OPTIONS', 'HEAD', 'PROPFIND', 'TRACE']);
      if (method === 'GET' || method === 'HEAD' || method === 'TRACE') body = undefined;
      break;
    case 'resume':
      headers['last-event-id'] = forgedEventId(rng, known);
      break;
    case 'use-chat':
      if (op.method === 'POST') {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(forgedUseChatBody(rng, known, params.sessionId ?? own));
      }
      break;
    case 'raw':
      return rawRequest(rng, url, method, headers, body, known);
    default:
      break;
  }
  if (op.name === 'chat.stream.resume' && rng.chance(0.5)) headers['last-event-id'] = forgedEventId(rng, known);
  if (method === 'GET' || method === 'HEAD') body = undefined;
  return { method, url, headers, body };
}

function encodeSegment(rng: Prng, value: string, strategy: Strategy): string {
  if (strategy !== 'odd-id' || rng.chance(0.5)) return percentEncode(value);
  // Unencoded: what a careless client (or an attacker) puts on the wire.
  return rng.pick([value.replace(/[\u0000-\u001f\u007f-\uffff ?#]/g, (c) => percentEncode(c)), '..', '.', '%2e%2e', '%2F', '%zz', '%', '..%2f..%2f', ';x', '*', '%u0041']);
}

function authHeaders(rng: Prng, strategy: Strategy, attacker: SignedInUser, known: Known): Record<string, string> {
  if (strategy === 'auth') {
    const token = known.otherTokens.length ? rng.pick(known.otherTokens) : attacker.accessToken;
    const [h = '', p = '', s = ''] = token.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString() || '{}'), sub: 'someone-else' })).toString('base64url');
    return rng.pick<Record<string, string>>([
      {},
      { authorization: `Bearer ${h}.${forgedPayload}.${s}` },
      { authorization: `Bearer ${h}.${p}.` },
      { authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.` },
      { authorization: `Bearer ${token.slice(0, -3)}` },
      { authorization: 'Bearer' },
      { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
      { authorization: `Bearer ${attacker.accessToken}`, cookie: `byok_at=${token}` },
      { cookie: `byok_at=${token.slice(0, -2)}x; byok_rt=${'a'.repeat(300)}` },
      { cookie: attacker.cookie },
      { cookie: attacker.cookie, origin: 'http://evil.example' },
      { cookie: attacker.cookie, origin: 'null' },
      { cookie: `byok_at=${attacker.accessToken}; byok_at=${token}`, origin: APP_ORIGIN },
    ]);
  }
  if (rng.chance(0.05)) return {};
  return rng.chance(0.6) ? { authorization: `Bearer ${attacker.accessToken}` } : { cookie: attacker.cookie, origin: APP_ORIGIN };
}

function oddHeaders(rng: Prng, known: Known): Record<string, string> {
  return rng.pick<Record<string, string>>([
    { 'content-type': 'text/plain' },
    { 'content-type': 'application/x-www-form-urlencoded' },
    { 'content-type': 'application/json; charset=utf-16' },
    { 'content-type': 'application/merge-patch+json' },
    { 'content-type': 'multipart/form-data; boundary=x' },
    { 'x-forwarded-for': '1.1.1.1, 127.0.0.1, ::1, garbage, 999.1.1.1' },
    { 'x-forwarded-for': 'x'.repeat(4000) },
    { forwarded: 'for="[::1]";proto=https;host=evil' },
    { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'javascript' },
    { 'idempotency-key': 'x'.repeat(300) },
    { 'idempotency-key': '' },
    { 'idempotency-key': known.otherIds[0] ?? 'x' },
    { 'last-event-id': forgedEventId(rng, known) },
    { 'user-agent': 'u'.repeat(8000) },
    { cookie: '__proto__=polluted; constructor=1; byok_at=' },
    { cookie: '=; ;;=; a=%zz' },
    { accept: 'text/event-stream' },
    { 'accept-encoding': 'gzip, br, zstd, identity;q=0' },
    { 'x-http-method-override': 'DELETE' },
    { 'content-length-ish': '-1', 'transfer-encoding-ish': 'chunked' },
    { 'x-header': '\u00ff\u00fe latin1 bytes' },
  ]);
}

/** encodeURIComponent over the UTF-8 bytes (a lone surrogate becomes U+FFFD instead of throwing). */
function percentEncode(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((b) => (/[A-Za-z0-9\-_.!~*'()]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** Raw bytes: header injection (CR/LF, NUL), request smuggling shapes, obsolete line folding. */
function rawRequest(rng: Prng, url: string, method: string, headers: Record<string, string>, body: string | Buffer | undefined, known: Known): SentRequest {
  const u = new URL(url);
  const bodyBytes = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const lines = [`${method} ${u.pathname}${u.search} HTTP/1.1`, `host: ${u.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const shape = rng.pick(['crlf-in-value', 'nul-in-value', 'dup-length', 'te-and-cl', 'folding', 'bad-chunk', 'short-body', 'lf-only', 'last-event-id-crlf', 'huge-header']);
  let tail = bodyBytes;
  switch (shape) {
    case 'crlf-in-value':
      lines.push('x-test: a\rx-injected: 1');
      break;
    case 'nul-in-value':
      lines.push('x-test: a\u0000b');
      break;
    case 'dup-length':
      lines.push(`content-length: ${bodyBytes.length}`, `content-length: ${bodyBytes.length + 5}`);
      break;
    case 'te-and-cl':
      lines.push(`content-length: ${bodyBytes.length}`, 'transfer-encoding: chunked');
      break;
    case 'folding':
      lines.push('x-folded: a', ' continued', `content-length: ${bodyBytes.length}`);
      break;
    case 'bad-chunk':
      lines.push('transfer-encoding: chunked');
      tail = Buffer.from(`zz\r\n${bodyBytes.toString('latin1')}\r\n0\r\n\r\n`, 'latin1');
      break;
    case 'short-body':
      lines.push(`content-length: ${bodyBytes.length + 10}`, 'connection: close');
      break;
    case 'lf-only':
      lines.push(`content-length: ${bodyBytes.length}`);
      return { method, url, headers, raw: Buffer.concat([Buffer.from(lines.join('\n') + '\n\n', 'latin1'), tail]) };
    case 'last-event-id-crlf':
      lines.push(`last-event-id: ${forgedEventId(rng, known)}\r\nx-injected: 1`, `content-length: ${bodyBytes.length}`);
      break;
    case 'huge-header':
      lines.push(`x-big: ${'b'.repeat(20_000)}`, `content-length: ${bodyBytes.length}`);
      break;
  }
  if (!lines.some((l) => /^(content-length|transfer-encoding):/i.test(l))) lines.push(`content-length: ${bodyBytes.length}`);
  lines.push('connection: close');
  return { method, url, headers: { ...headers, 'x-raw-shape': shape }, raw: Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), tail]) };
}

function trpcRequest(base: string, op: FuzzOperation, strategy: Strategy, rng: Prng, known: Known, auth: Record<string, string>): SentRequest {
  const input: Record<string, unknown> = { ...buildBody(op, rng, known, {}) };
  for (const name of op.pathParams) input[name] = rng.chance(0.6) && known.ownIds.length ? rng.pick(known.ownIds) : oddId(rng, known);
  for (const q of op.queryParams) if (rng.chance(0.5)) input[q.name] = q.name === 'cursor' ? forgedCursor(rng, known) : sampleOf(q.schema, rng, known);
  if (op.name === 'chat.stream.resume' || strategy === 'resume') input.lastEventId = rng.chance(0.8) ? forgedEventId(rng, known) : hostileValue(rng, known);
  if (strategy === 'use-chat') Object.assign(input, forgedUseChatBody(rng, known, asText(input.sessionId ?? 'x')));
  const name = strategy === 'odd-id' && rng.chance(0.3) ? rng.pick([`${op.name}/../me.get`, `__proto__`, `constructor.prototype`, `${op.name}.`, `.${op.name}`, `${op.name}%00`, 'toString', `${op.name},${op.name}`]) : op.name;
  const isQuery = op.method === 'GET';
  let text = JSON.stringify(input);
  const headers: Record<string, string> = { ...auth };
  switch (strategy) {
    case 'wrong-type':
      text = JSON.stringify(rng.pick([[input], 'text', 42, null, true, []]));
      break;
    case 'pollution':
      text = withPollutionKeys(rng, text);
      break;
    case 'huge':
      text = JSON.stringify({ ...input, text: 'x'.repeat(rng.pick([1_100_000, 600_000])) });
      break;
    case 'deep':
      text = deepJson(rng.int(65, 20_000), rng.pick(['array', 'object']));
      break;
    case 'invalid-json':
      text = rng.pick(['{', '{"a":}', "{'a':1}", '\ufeff{}', 'undefined']);
      break;
    case 'headers':
      Object.assign(headers, oddHeaders(rng, known));
      break;
    default:
      break;
  }
  const batch = rng.chance(0.1);
  const path = batch ? `${base}/${Array.from({ length: rng.int(2, 120) }, () => name).join(',')}?batch=1` : `${base}/${encodeURIComponent(name).replace(/%2C/g, ',').replace(/%2F/g, rng.chance(0.5) ? '/' : '%2F')}`;
  const batchText = (t: string) => (batch ? `{${Array.from({ length: 3 }, (_, i) => `"${i}":${t}`).join(',')}}` : t);
  const method = strategy === 'method' ? rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) : isQuery || op.stream && isQuery ? 'GET' : 'POST';
  if (method === 'GET') {
    const sep = path.includes('?') ? '&' : '?';
    return { method, url: `${path}${sep}input=${encodeURIComponent(batchText(text))}`, headers };
  }
  if (strategy === 'invalid-utf8') return { method, url: path, headers: { ...headers, 'content-type': 'application/json' }, body: invalidUtf8(rng, text) };
  return { method, url: path, headers: { 'content-type': 'application/json', ...headers }, body: batchText(text) };
}

/** Any value as text, even an object whose own `toString` is hostile. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
}

/** A body that passes the schema more often than not, then usually broken in one place. */
function buildBody(op: FuzzOperation, rng: Prng, known: Known, params: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const schema = op.bodySchema;
  if (op.name === 'chat.messages.send' && rng.chance(0.5)) return { sessionId: params.sessionId ?? 'x', text: rng.pick(['hi', 'x'.repeat(rng.int(1, 2000)), '']) };
  if (op.name === 'chat.sessions.create' && rng.chance(0.5)) return { provider: 'gemini', model: MODEL, title: asText(hostileValue(rng, known)).slice(0, 200) };
  const props = (schema?.properties ?? {}) as Record<string, Record<string, any>>;
  for (const [name, prop] of Object.entries(props)) {
    if (op.pathParams.includes(name)) continue;
    if (rng.chance(0.25)) continue;
    body[name] = rng.chance(0.75) ? sampleOf(prop, rng, known) : hostileValue(rng, known);
  }
  if (rng.chance(0.2)) body[rng.pick(['extra', 'isAdmin', 'userId', 'role', 'id'])] = hostileValue(rng, known);
  return body;
}

/** A value for a JSON Schema: valid-looking (enums, types, bounds), with other users' ids for id-like strings. */
export function sampleOf(schema: Record<string, any> | undefined, rng: Prng, known: Known): unknown {
  if (!schema || typeof schema !== 'object') return hostileValue(rng, known);
  if (schema.enum) return rng.pick(schema.enum as unknown[]);
  if (schema.const !== undefined) return schema.const;
  const alternatives = (schema.anyOf ?? schema.oneOf) as Array<Record<string, any>> | undefined;
  if (alternatives?.length) return sampleOf(rng.pick(alternatives), rng, known);
  const type = Array.isArray(schema.type) ? rng.pick(schema.type as string[]) : schema.type;
  switch (type) {
    case 'string': {
      const max = typeof schema.maxLength === 'number' ? schema.maxLength : 100;
      const candidates = [oddId(rng, known), 'gemini', MODEL, 'hello', 'x'.repeat(Math.min(max, rng.int(1, 300)))];
      return rng.pick(candidates).slice(0, rng.chance(0.8) ? max : max + 5);
    }
    case 'integer':
    case 'number':
      return rng.pick([schema.minimum ?? 0, schema.maximum ?? 100, 1, -1, 0.5, 1e12]);
    case 'boolean':
      return rng.chance(0.5);
    case 'null':
      return null;
    case 'array':
      return Array.from({ length: rng.int(0, 3) }, () => sampleOf(schema.items, rng, known));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, any>>)) if (rng.chance(0.7)) out[name] = sampleOf(prop, rng, known);
      return out;
    }
    default:
      return hostileValue(rng, known);
  }
}

// ---------------------------------------------------------------- checks

/** What is wrong with an answer, or null. */
export function checkAnswer(world: World, adapter: AdapterName, op: FuzzOperation, request: SentRequest, answer: Answer): string | null {
  if (answer.failure === 'timeout') return `no complete answer within the deadline (hang): ${answer.failureDetail ?? ''}`;
  if (answer.failure === 'connection') {
    // A body refused as too large ends the connection by design; the client may see that while still writing.
    const bodyLength = request.raw ? request.raw.length : request.body ? Buffer.byteLength(request.body) : 0;
    if (bodyLength > 1024 * 1024) return null;
    // Bytes that are not HTTP end at Node's parser; a connection it drops is not byok's.
    if (answer.viaRaw) return null;
    return `connection dropped without an answer: ${answer.failureDetail ?? ''}`;
  }
  if (answer.status >= 500) return `answered ${answer.status}`;
  const injected = Object.keys(answer.headers).find((h) => h === 'x-injected') ?? (answer.headers['set-cookie']?.includes('injected=') ? 'set-cookie injected' : undefined);
  if (injected) return `a header was injected: ${injected}`;
  if (answer.status < 400) return streamProblem(adapter, answer);
  if (answer.headers['x-host-fallthrough'] === '1') return null;
  if (answer.viaRaw && !answer.headers['content-type']?.includes('json')) return null; // Node's own 400 for bytes that are not HTTP
  if (answer.status === 431) return null; // headers larger than Node accepts: refused before any adapter
  const body = parseJson(answer.text);
  if (adapter === 'trpc') {
    const entries = Array.isArray(body) ? body : [body];
    for (const entry of entries) {
      const e = (entry as { error?: { message?: unknown; data?: { byokCode?: unknown; httpStatus?: unknown } } } | null)?.error;
      if (!e) continue;
      if (typeof e.message !== 'string' || typeof e.data?.byokCode !== 'string') return `a tRPC error without byok's code: ${answer.text.slice(0, 300)}`;
      if (e.data.byokCode === 'internal' || (typeof e.data.httpStatus === 'number' && e.data.httpStatus >= 500)) return `a tRPC error that is internal: ${answer.text.slice(0, 300)}`;
    }
    if (!entries.some((entry) => entry && typeof entry === 'object' && 'error' in (entry as object))) return `an error status with no tRPC error body: ${answer.text.slice(0, 300)}`;
    return null;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') return null;
  if (request.method === 'HEAD' && answer.text === '') return null;
  // Outside byok's routes the host answers (Nest's own 404, or its JSON parser's 400/413 on
  // `/api/chat/sessions//messages`, which no byok route matches): not byok's to shape.
  const path = new URL(request.url).pathname.replace(/^\/api/, '');
  if (!world.byok.http.routes(path)) return null;
  return `an error without { error: { code, message } }: ${answer.status} ${answer.text.slice(0, 300)}`;
}

function streamProblem(adapter: AdapterName, answer: Answer): string | null {
  if (!answer.headers['content-type']?.includes('text/event-stream')) return null;
  for (const match of answer.text.matchAll(/^data: ?(.*)$/gm)) {
    const data = parseJson(match[1]!) as Record<string, any> | null;
    if (!data) continue;
    if (adapter === 'trpc' && data.error?.data?.byokCode === 'internal') return `a stream error that is internal: ${match[1]!.slice(0, 300)}`;
    if (data.type === 'error' && /internal/i.test(String(data.errorText ?? ''))) return `a stream error that is internal: ${match[1]!.slice(0, 300)}`;
  }
  return null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function protoSnapshot(): string[] {
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype].flatMap((p, i) => Object.getOwnPropertyNames(p).map((n) => `${i}:${n}`)).sort();
}

function protoProblem(before: string[]): string | null {
  const now = protoSnapshot();
  const added = now.filter((n) => !before.includes(n));
  const probe = {} as Record<string, unknown>;
  if (added.length || probe.polluted !== undefined || probe.isAdmin !== undefined) return `prototype pollution: ${added.join(', ') || 'polluted/isAdmin visible on {}'}`;
  return null;
}

/** What a user can see of their own data, in a form that must not change while others act. */
export async function snapshotUser(user: SignedInUser, base: string): Promise<Record<string, unknown>> {
  const api = new UserApi(user, base);
  const get = async (path: string) => {
    const answer = await api.call('GET', path);
    return { status: answer.status, json: answer.json };
  };
  const sessions = await get('/chat/sessions?limit=100');
  const messages: Record<string, unknown> = {};
  for (const s of ((sessions.json?.items ?? []) as Array<{ id: string }>)) messages[s.id] = (await get(`/chat/sessions/${s.id}/messages?limit=100`)).json;
  const authSessions = await get('/auth/sessions');
  return {
    me: await get('/me'),
    preferences: await get('/me/preferences'),
    keys: await get('/keys'),
    sessions,
    messages,
    authSessions: ((authSessions.json?.items ?? []) as Array<{ id: string }>).map((s) => s.id).sort(),
  };
}

export function diffSnapshots(before: Record<string, unknown>, after: Record<string, unknown>): string | null {
  for (const key of Object.keys(before)) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a !== b) return `${key}: ${a.slice(0, 300)} → ${b.slice(0, 300)}`;
  }
  return null;
}

function failure(seed: number, adapter: AdapterName, index: number, operation: string, strategy: string, problem: string, request: SentRequest, answer: Answer | null): FuzzFailure {
  const bodyText = request.raw ? request.raw.toString('latin1') : request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body.toString('latin1') : request.body;
  return {
    seed,
    adapter,
    index,
    operation,
    strategy,
    problem,
    request: { method: request.method, url: request.url, headers: request.headers, ...(bodyText !== undefined ? { body: bodyText.length > 600 ? `${bodyText.slice(0, 600)}… (${bodyText.length} chars)` : bodyText, fullBody: bodyText.slice(0, 200_000) } : {}) },
    answer: answer ? { status: answer.status, headers: answer.headers, text: answer.text.slice(0, 600), failure: answer.failure, detail: answer.failureDetail } : { status: 0, headers: {}, text: '' },
  };
}

/** Credentials shortened in what is printed (the failing request stays recognisable). */
function redacted(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  for (const name of ['authorization', 'cookie']) if (out[name]) out[name] = `${out[name]!.slice(0, 24)}… (${out[name]!.length} chars)`;
  return out;
}

/** A failure as a reproducible report line: the seed, where, what was sent, what came back. */
export function formatFailure(f: FuzzFailure): string {
  return [
    `seed ${f.seed} · ${f.adapter} · request #${f.index} · ${f.operation} · ${f.strategy}: ${f.problem}`,
    `  → ${f.request.method} ${f.request.url}`,
    `    headers ${JSON.stringify(redacted(f.request.headers)).slice(0, 400)}`,
    ...(f.request.body !== undefined ? [`    body ${JSON.stringify(f.request.body).slice(0, 400)}`] : []),
    `  ← ${f.answer.status} ${f.answer.failure ?? ''} ${f.answer.detail ?? ''} ${f.answer.text.slice(0, 300)}`,
  ].join('\n');
}
