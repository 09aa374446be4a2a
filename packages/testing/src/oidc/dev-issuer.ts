import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';
import type { ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { decodeTestJwt, signTestJwt, testSigningKeyPair } from './test-jws';
import type { TestJwsAlg, TestJwsKey, TestKeyPair } from './test-jws';

/** A person who can sign in at the development issuer. `sub` is what `driveLogin` types in. */
export interface DevIssuerUser {
  sub: string;
  email: string;
  email_verified: boolean;
  name: string;
  picture?: string;
  /** Google's hosted domain claim, for tests of account linking rules. */
  hd?: string;
}

/** A relying party registered at the development issuer. */
export interface DevIssuerClient {
  client_id: string;
  /** Omit for a public client (`token_endpoint_auth_method: 'none'`). */
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method?: 'client_secret_post' | 'client_secret_basic' | 'none';
  /** Default `['authorization_code', 'refresh_token']`; drop `refresh_token` to issue none. */
  grant_types?: string[];
}

/** Options for {@link startDevIssuer}. */
export interface DevIssuerOptions {
  users?: DevIssuerUser[];
  clients?: DevIssuerClient[];
  /** Port on 127.0.0.1; default 0 (ephemeral). */
  port?: number;
  /** Lifetimes in seconds. */
  ttl?: { idToken?: number; accessToken?: number; authorizationCode?: number; refreshToken?: number };
}

/**
 * A change to apply to the next ID token the token endpoint returns, for negative
 * tests of the relying party. Claims set to `undefined` are removed.
 */
export interface IdTokenTamper {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /**
   * How to re-sign: `'issuer'` (default, the issuer's real key, so only the claims are
   * wrong), `'foreign'` (a key the issuer never published, same `kid`), `'none'`
   * (`alg: none`, empty signature) or an explicit alg and key (e.g. HS256 with the
   * client secret, or with the issuer's public key for algorithm confusion).
   */
  signWith?: 'issuer' | 'foreign' | 'none' | { alg: TestJwsAlg; key?: TestJwsKey };
}

/** A running development issuer. */
export interface DevIssuer {
  /** The issuer identifier, `http://127.0.0.1:<port>`. */
  readonly issuer: string;
  readonly port: number;
  readonly users: DevIssuerUser[];
  readonly clients: DevIssuerClient[];
  /** The key the issuer signs ID tokens with (RS256). */
  readonly signingKey: TestKeyPair;
  /** Makes the token endpoint's next ID token wrong in the given way (once). */
  tamperNextIdToken(tamper: IdTokenTamper): void;
  /** Adds a user who can sign in from now on. */
  addUser(user: DevIssuerUser): void;
  close(): Promise<void>;
}

export const DEFAULT_DEV_USERS: readonly DevIssuerUser[] = Object.freeze([
  { sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice Example' },
  { sub: 'bob', email: 'bob@example.test', email_verified: false, name: 'Bob Example' },
]);

export const DEFAULT_DEV_CLIENTS: readonly DevIssuerClient[] = Object.freeze([
  {
    client_id: 'byok-dev',
    client_secret: 'byok-dev-secret',
    redirect_uris: ['http://127.0.0.1:3000/auth/callback/dev', 'http://localhost:3000/auth/callback/dev'],
  },
]);

/**
 * Starts a real OpenID Provider (`oidc-provider` 9) on 127.0.0.1 over plain HTTP:
 * authorization code with PKCE S256 (required for every client), optional refresh
 * tokens, ID tokens carrying `email`, `email_verified`, `name`, `picture` (as Google's
 * do), and a minimal login and consent page that {@link driveLogin} fills in. Only
 * configured users can sign in.
 *
 * @example
 * const issuer = await startDevIssuer({
 *   clients: [{ client_id: 'app', client_secret: 's3cret', redirect_uris: ['http://127.0.0.1:4000/cb'] }],
 * });
 * // discovery at `${issuer.issuer}/.well-known/openid-configuration`
 * await issuer.close();
 */
export async function startDevIssuer(options: DevIssuerOptions = {}): Promise<DevIssuer> {
  const users = new Map<string, DevIssuerUser>();
  for (const user of options.users ?? DEFAULT_DEV_USERS) users.set(user.sub, { ...user });
  const clients = (options.clients ?? DEFAULT_DEV_CLIENTS).map((c) => ({ ...c }));
  const signingKey = testSigningKeyPair('RS256', `dev-${randomBytes(6).toString('hex')}`);
  const foreignKey = testSigningKeyPair('RS256', signingKey.publicJwk.kid);
  let pendingTamper: IdTokenTamper | null = null;

  // Listen first: the issuer identifier has to contain the port.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const ttl = options.ttl ?? {};
  const configuration: Configuration = {
    clients: clients.map(toClientMetadata),
    findAccount: (_ctx, sub) => {
      const user = users.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          email: user.email,
          email_verified: user.email_verified,
          name: user.name,
          ...(user.picture === undefined ? {} : { picture: user.picture }),
          ...(user.hd === undefined ? {} : { hd: user.hd }),
        }),
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified', 'hd'], profile: ['name', 'picture'] },
    // Like Google: the scope's claims go into the ID token, not only into userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [signingKey.privateJwk as never] },
    ttl: {
      AccessToken: ttl.accessToken ?? 3600,
      AuthorizationCode: ttl.authorizationCode ?? 60,
      IdToken: ttl.idToken ?? 3600,
      RefreshToken: ttl.refreshToken ?? 86_400,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  };
  // Loaded on first use, so importing @byok/testing for its other stand-ins stays quiet
  // (oidc-provider warns at import time on Node 20).
  const { default: ProviderClass } = await import('oidc-provider');
  const provider = new ProviderClass(issuer, configuration);

  provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    await next();
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (pendingTamper && ctx.oidc?.route === 'token' && ctx.status === 200 && typeof body?.id_token === 'string') {
      const tamper = pendingTamper;
      pendingTamper = null;
      ctx.body = { ...body, id_token: retamper(body.id_token, tamper, signingKey, foreignKey) };
    }
  });

  const oidcCallback = provider.callback();
  handler = (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    const interaction = /^\/interaction\/([A-Za-z0-9_-]+)(\/abort)?$/u.exec(path);
    if (!interaction) {
      oidcCallback(req, res);
      return;
    }
    handleInteraction(provider, users, req, res, interaction[1]!, interaction[2] !== undefined).catch((error: unknown) => {
      if (!res.headersSent) {
        res.statusCode = 400;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
      }
      res.end(`interaction failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  };

  return {
    issuer,
    port,
    get users() {
      return [...users.values()];
    },
    clients,
    signingKey,
    tamperNextIdToken(tamper) {
      pendingTamper = tamper;
    },
    addUser(user) {
      users.set(user.sub, { ...user });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function toClientMetadata(client: DevIssuerClient): ClientMetadata {
  const method = client.token_endpoint_auth_method ?? (client.client_secret === undefined ? 'none' : 'client_secret_post');
  return {
    client_id: client.client_id,
    ...(client.client_secret === undefined ? {} : { client_secret: client.client_secret }),
    redirect_uris: client.redirect_uris,
    response_types: ['code'],
    grant_types: client.grant_types ?? ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: method,
    id_token_signed_response_alg: 'RS256',
  };
}

async function handleInteraction(
  provider: Provider,
  users: Map<string, DevIssuerUser>,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  abort: boolean,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (abort) {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const prompt = details.prompt.name;
  if (req.method === 'GET') {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    const field =
      prompt === 'login' ? '<label>Subject <input name="login" required autofocus></label>' : '<p>Allow access?</p>';
    res.end(
      `<!doctype html><title>byok dev issuer: ${prompt}</title>` +
        `<form method="post" action="/interaction/${uid}" data-prompt="${prompt}">` +
        `<input type="hidden" name="prompt" value="${prompt}">${field}<button type="submit">Continue</button></form>` +
        `<a href="/interaction/${uid}/abort">Cancel</a>`,
    );
    return;
  }
  if (req.method !== 'POST') throw new Error('method not allowed');
  const form = new URLSearchParams(await readBody(req));
  if (form.get('prompt') !== prompt) throw new Error(`expected the ${prompt} prompt`);

  if (prompt === 'login') {
    const sub = form.get('login') ?? '';
    if (!users.has(sub)) {
      res.statusCode = 401;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('unknown user');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt === 'consent') {
    const { session, params, grantId } = details;
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
    if (!grant) throw new Error('grant not found');
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const saved = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId: saved } }, { mergeWithLastSubmission: true });
    return;
  }
  throw new Error(`unsupported prompt ${prompt}`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function retamper(idToken: string, tamper: IdTokenTamper, issuerKey: TestKeyPair, foreignKey: TestKeyPair): string {
  const { header, payload } = decodeTestJwt(idToken);
  const claims: Record<string, unknown> = { ...payload };
  for (const [name, value] of Object.entries(tamper.claims ?? {})) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  const how = tamper.signWith ?? 'issuer';
  const base = { ...header, ...tamper.header };
  if (how === 'none') return signTestJwt({ ...base, alg: 'none' }, claims);
  if (how === 'issuer') return signTestJwt({ ...base, alg: 'RS256' }, claims, issuerKey.privateKey);
  if (how === 'foreign') return signTestJwt({ ...base, alg: 'RS256' }, claims, foreignKey.privateKey);
  return signTestJwt({ ...base, alg: how.alg }, claims, how.key);
}
