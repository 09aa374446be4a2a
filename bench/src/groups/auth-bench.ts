import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { decodeJwt, importJWK, jwtVerify } from 'jose';
import { createByok, localKms, oidc, type Byok } from '@byok/core';
import { type ByokRequest } from '@byok/core/http';
import { compare, median, ratioFigure, type Comparison, type Figure } from '../harness';

const MASTER = `1:${Buffer.alloc(32, 7).toString('base64')}`;
const BASE = 'http://127.0.0.1:4999';
/** Signed-in users (one session each) per side; calls cycle through them. */
const SESSIONS = 16;
/** Sequential awaited calls per side per round. */
const VERIFY_OPS = 1_000;
const SESSION_OPS = 750;
const ROUNDS = 15;

/** Time per op (ms) of `n` sequential awaited calls; `fn` gets the call index. */
async function perOp(n: number, fn: (i: number) => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - start) / 1e6 / n;
}

/** Throughput ours/theirs from a time comparison (higher is better). */
function speedupFigure(metric: string, c: Comparison, target: string, note: string): Figure {
  const speedups = c.ratios.map((r) => 1 / r);
  return { metric, value: median(speedups), min: Math.min(...speedups), max: Math.max(...speedups), unit: 'x', target, note };
}

function opsPerSecond(msPerOp: number[]): string {
  return `${Math.round(1000 / median(msPerOp))}/s`;
}

/** A byok instance on its own SQLite file, with `SESSIONS` signed-in users and their Bearer requests. */
async function byokSide(
  dir: string,
  name: string,
  strict: boolean | { cacheMs: number },
  verifiedTokenCache?: number,
): Promise<{ byok: Byok; requests: ByokRequest[]; tokens: string[] }> {
  const byok = await createByok({
    database: { sqlite: join(dir, `${name}.db`) },
    kms: localKms({ keys: MASTER }),
    auth: {
      // The issuer is only contacted at sign-in, which this bench does not do: the sessions
      // come from `auth.createSession` for users the host signed in.
      issuers: [oidc({ id: 'bench', issuer: 'http://127.0.0.1:9', clientId: 'byok', clientSecret: 'bench-secret', development: true })],
      baseUrl: BASE,
      allowedOrigins: ['http://app.example'],
      cookieSecret: 'b'.repeat(64),
      strict,
      ...(verifiedTokenCache === undefined ? {} : { jwt: { verifiedTokenCache } }),
    },
  });
  const auth = byok.auth!;
  const tokens: string[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const { user } = await byok.users.findOrCreate({ issuer: 'https://bench.test', subject: `${name}-${i}`, email: `user${i}@bench.test`, emailVerified: true });
    tokens.push((await auth.createSession(user.id)).accessToken);
  }
  const requests = tokens.map((token) => ({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` }, remoteAddress: '127.0.0.1' }));
  return { byok, requests, tokens };
}

/** Better Auth on its own SQLite file (same journal settings as byok's), migrated, with `SESSIONS` signed-up users' cookies. */
async function betterAuthSide(dir: string, name: string, cookieCache: boolean) {
  const db = new Database(join(dir, `${name}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const options = {
    database: db,
    secret: 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    baseURL: BASE,
    emailAndPassword: { enabled: true },
    logger: { disabled: true },
    telemetry: { enabled: false },
    ...(cookieCache ? { session: { cookieCache: { enabled: true, maxAge: 300 } } } : {}),
  };
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  const auth = betterAuth(options);
  const headers: Headers[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const { headers: set } = await auth.api.signUpEmail({
      body: { email: `user${i}@bench.test`, password: `bench-password-${i}`, name: `User ${i}` },
      returnHeaders: true,
    });
    const cookie = set
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .join('; ');
    headers.push(new Headers({ cookie }));
  }
  return { auth, db, headers };
}

/**
 * auth.verify_ratio: `authenticate()` of a Bearer access JWT over jose's `jwtVerify` alone
 * with a pre-imported key and the same checks. The two speedups: requests per second of our
 * `authenticate()` (strict: session checked against the store, with its short cache; and
 * default) over Better Auth's `getSession` (default: a database read; and with its cookie
 * cache), all on SQLite files in one process.
 */
export async function run(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'byok-auth-bench-'));
  const opened: Array<{ close(): unknown }> = [];
  try {
    const plain = await byokSide(dir, 'byok-default', false);
    opened.push(plain.byok);
    const strict = await byokSide(dir, 'byok-strict', true);
    opened.push(strict.byok);
    // no session cache and no verified-token memory: a signature verification and a store read per request
    const strictNoCache = await byokSide(dir, 'byok-strict-nocache', { cacheMs: 0 }, 0);
    opened.push(strictNoCache.byok);
    const unmemoised = await byokSide(dir, 'byok-unmemoised', false, 0);
    opened.push(unmemoised.byok);
    const ba = await betterAuthSide(dir, 'better-auth', false);
    opened.push(ba.db);
    const baCached = await betterAuthSide(dir, 'better-auth-cached', true);
    opened.push(baCached.db);

    const authPlain = plain.byok.auth!;
    const authStrict = strict.byok.auth!;
    const authStrictNoCache = strictNoCache.byok.auth!;

    // Sanity: every side identifies its callers before anything is timed.
    for (let i = 0; i < SESSIONS; i++) {
      for (const [side, a] of [[plain, authPlain], [strict, authStrict], [strictNoCache, authStrictNoCache], [unmemoised, unmemoised.byok.auth!]] as const) {
        const ctx = await a.authenticate(side.requests[i]!);
        if (!ctx || ctx.sessionId !== decodeJwt(side.tokens[i]!).sid) throw new Error('byok authenticate did not identify the caller');
      }
      for (const side of [ba, baCached]) {
        const s = await side.auth.api.getSession({ headers: side.headers[i]! });
        if (s?.user.email !== `user${i}@bench.test`) throw new Error('Better Auth getSession did not identify the caller');
      }
    }
    if (baCached.headers[0]!.get('cookie')?.includes('session_data') !== true) throw new Error('Better Auth did not set its cookie cache');

    // --- auth.verify_ratio: the same token and claim checks as byok's verifyAccessToken
    const jwks = await authPlain.jwks();
    const jwk = jwks!.keys[0]!;
    const publicKey = await importJWK(jwk, jwk.alg);
    const claims = decodeJwt(plain.tokens[0]!);
    const verifyOptions = {
      algorithms: [jwk.alg!],
      issuer: claims.iss!,
      audience: claims.aud as string,
      typ: 'at+jwt',
      clockTolerance: 5,
      requiredClaims: ['iss', 'sub', 'aud', 'iat', 'exp', 'jti', 'sid'],
    };
    const verify = await compare(
      () => perOp(VERIFY_OPS, (i) => authPlain.authenticate(plain.requests[i % SESSIONS]!)),
      () => perOp(VERIFY_OPS, (i) => jwtVerify(plain.tokens[i % SESSIONS]!, publicKey, verifyOptions)),
      { rounds: ROUNDS, warmup: 1 },
    );
    console.log(`auth verify: authenticate ${opsPerSecond(verify.ours)}, jose jwtVerify ${opsPerSecond(verify.baseline)} (${VERIFY_OPS} ops/round/side, ${ROUNDS} rounds, ${jwk.alg})`);
    figures.push({ ...ratioFigure('auth.verify_ratio', verify, '≤ 1.2'), note: `${VERIFY_OPS} ops/round, ${jwk.alg}, repeated tokens (remembered)` });

    // The same with the verified-token memory off: every call verifies the signature, as
    // a token's first use does.
    const uJwk = (await unmemoised.byok.auth!.jwks())!.keys[0]!;
    const uKey = await importJWK(uJwk, uJwk.alg);
    const uClaims = decodeJwt(unmemoised.tokens[0]!);
    const uOptions = { ...verifyOptions, algorithms: [uJwk.alg!], issuer: uClaims.iss!, audience: uClaims.aud as string };
    const verifyCold = await compare(
      () => perOp(VERIFY_OPS, (i) => unmemoised.byok.auth!.authenticate(unmemoised.requests[i % SESSIONS]!)),
      () => perOp(VERIFY_OPS, (i) => jwtVerify(unmemoised.tokens[i % SESSIONS]!, uKey, uOptions)),
      { rounds: ROUNDS, warmup: 1 },
    );
    figures.push({ ...ratioFigure('auth.verify_ratio_unmemoised', verifyCold, '≤ 1.2'), note: `${VERIFY_OPS} ops/round, signature verified every call` });

    // --- auth.speedup_vs_better_auth: strict authenticate vs Better Auth's default getSession
    const vsDefault = await compare(
      () => perOp(SESSION_OPS, (i) => authStrict.authenticate(strict.requests[i % SESSIONS]!)),
      () => perOp(SESSION_OPS, (i) => ba.auth.api.getSession({ headers: ba.headers[i % SESSIONS]! })),
      { rounds: ROUNDS, warmup: 1 },
    );
    console.log(`auth strict: authenticate ${opsPerSecond(vsDefault.ours)}, Better Auth getSession ${opsPerSecond(vsDefault.baseline)} (${SESSION_OPS} ops/round/side, ${SESSIONS} sessions each)`);
    figures.push(speedupFigure('auth.speedup_vs_better_auth', vsDefault, '≥ 3', `strict (2 s session cache), ${SESSION_OPS} ops/round`));

    // --- auth.speedup_vs_better_auth_cached: default authenticate vs getSession with its cookie cache
    const vsCached = await compare(
      () => perOp(SESSION_OPS, (i) => authPlain.authenticate(plain.requests[i % SESSIONS]!)),
      () => perOp(SESSION_OPS, (i) => baCached.auth.api.getSession({ headers: baCached.headers[i % SESSIONS]! })),
      { rounds: ROUNDS, warmup: 1 },
    );
    console.log(`auth default: authenticate ${opsPerSecond(vsCached.ours)}, Better Auth getSession (cookie cache) ${opsPerSecond(vsCached.baseline)} (${SESSION_OPS} ops/round/side)`);
    figures.push(speedupFigure('auth.speedup_vs_better_auth_cached', vsCached, '≥ 3', `default mode vs cookieCache maxAge 300 s, ${SESSION_OPS} ops/round`));

    // Context only (not a figure): strict with no cache reads the session row on every request.
    const noCache = await compare(
      () => perOp(SESSION_OPS / 3, (i) => authStrictNoCache.authenticate(strictNoCache.requests[i % SESSIONS]!)),
      () => perOp(SESSION_OPS / 3, (i) => ba.auth.api.getSession({ headers: ba.headers[i % SESSIONS]! })),
      { rounds: 5, warmup: 1 },
    );
    const noCacheSpeedups = noCache.ratios.map((r) => 1 / r);
    figures.push({
      metric: 'auth.speedup_vs_better_auth_strict_uncached',
      value: median(noCacheSpeedups),
      min: Math.min(...noCacheSpeedups),
      max: Math.max(...noCacheSpeedups),
      unit: 'x',
      note: 'strict, no session cache, no token memory',
    });
    console.log(
      `auth strict, cacheMs 0 (a store read per request): ${opsPerSecond(noCache.ours)} vs Better Auth ${opsPerSecond(noCache.baseline)}; ` +
        `speedup ${median(noCacheSpeedups).toFixed(2)} (${Math.min(...noCacheSpeedups).toFixed(2)}–${Math.max(...noCacheSpeedups).toFixed(2)})`,
    );
    return figures;
  } finally {
    for (const o of opened.reverse()) await o.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
