import type { OAuthTokensRepository } from '../store/auth-repositories';
import type { Clock } from '../util/clock';
import { uuidv7 } from '../util/ids';
import type { Logger } from '../util/logger';
import type { Sealer } from '../vault/sealer';
import type { IssuerRegistry } from './issuer-registry';
import type { OidcLoginResult } from './oidc-client';

/** A user's tokens from one issuer, opened. Secrets: use and drop. */
export interface OpenedIssuerTokens {
  accessToken: string | null;
  refreshToken: string | null;
  expiresAt: number | null;
}

/** What {@link IssuerTokens} is built from. */
export interface IssuerTokensOptions {
  repository: OAuthTokensRepository;
  sealer: Pick<Sealer, 'sealOAuthToken' | 'openOAuthToken'>;
  issuers: IssuerRegistry;
  clock: Clock;
  logger: Logger;
  /** Keep the tokens at sign-in (`auth.storeIssuerTokens`, default true). */
  storeTokens: boolean;
}

/**
 * The issuers' access and refresh tokens kept for each user at sign-in, sealed by the
 * vault; revoked at the issuer (best effort) and deleted at sign-out.
 *
 * @example
 * const tokens = new IssuerTokens({ repository: store.oauthTokens, sealer, issuers, clock, logger, storeTokens: true });
 * await tokens.keep(userId, loginResult);
 */
export class IssuerTokens {
  readonly #options: IssuerTokensOptions;

  constructor(options: IssuerTokensOptions) {
    this.#options = options;
  }

  /** Seals and stores the tokens of a finished login (replacing the user's previous ones from that issuer). */
  async keep(userId: string, result: OidcLoginResult): Promise<void> {
    if (!this.#options.storeTokens) return;
    const { repository, sealer, clock } = this.#options;
    const now = clock.now();
    const id = uuidv7(now);
    const seal = async (token: string | null, tokenKind: 'access' | 'refresh') =>
      token === null ? null : Buffer.from(await sealer.sealOAuthToken(token, { userId, tokenKind, recordId: id })).toString('base64url');
    await repository.put({
      id,
      userId,
      issuer: result.issuer,
      accessTokenSealed: await seal(result.tokens.accessToken, 'access'),
      refreshTokenSealed: await seal(result.tokens.refreshToken, 'refresh'),
      expiresAt: result.tokens.expiresAt,
      createdAt: now,
      updatedAt: now,
    });
  }

  /** The user's tokens from `issuer` (its URL), opened; null when none are kept. */
  async open(userId: string, issuer: string): Promise<OpenedIssuerTokens | null> {
    const row = await this.#options.repository.get(userId, issuer);
    if (!row) return null;
    const open = (sealed: string | null, tokenKind: 'access' | 'refresh') =>
      sealed === null ? Promise.resolve(null) : this.#options.sealer.openOAuthToken(Buffer.from(sealed, 'base64url'), { userId, tokenKind, recordId: row.id });
    return { accessToken: await open(row.accessTokenSealed, 'access'), refreshToken: await open(row.refreshTokenSealed, 'refresh'), expiresAt: row.expiresAt };
  }

  /** Revokes the user's tokens at `issuer` (best effort) and deletes them here. */
  async drop(userId: string, issuer: string): Promise<void> {
    const { repository, issuers, logger } = this.#options;
    const row = await repository.get(userId, issuer);
    if (!row) return;
    const client = issuers.byIssuerUrl(issuer);
    if (client) {
      try {
        const tokens = await this.open(userId, issuer);
        const token = tokens?.refreshToken ?? tokens?.accessToken;
        if (token) await client.revokeToken(token, tokens?.refreshToken ? 'refresh_token' : 'access_token');
      } catch (error) {
        logger.warn({ err: error, issuer }, 'byok auth: revoking the issuer token failed; it is deleted here anyway');
      }
    }
    await repository.delete(userId, issuer);
  }

  /** {@link drop} for every configured issuer. */
  async dropAll(userId: string): Promise<void> {
    for (const client of this.#options.issuers.clients()) await this.drop(userId, client.issuer.issuer);
  }
}
