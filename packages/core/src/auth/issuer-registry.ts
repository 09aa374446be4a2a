import { ByokError } from '../errors';
import type { Clock } from '../util/clock';
import type { OidcIssuerConfig } from './issuers';
import { OidcClient } from './oidc-client';

/**
 * The configured issuers' OpenID clients, by issuer id (`google`, `dev`) and by issuer
 * URL (`iss`, what identities and issuer tokens are stored under).
 *
 * @example
 * const issuers = new IssuerRegistry({ issuers: [google({ clientId, clientSecret })], baseUrl: 'https://api.example', clock });
 * issuers.get('google').startLogin();
 */
export class IssuerRegistry {
  readonly #byId = new Map<string, OidcClient>();
  readonly #byUrl = new Map<string, OidcClient>();

  constructor(options: { issuers: readonly OidcIssuerConfig[]; baseUrl: string; clock: Clock }) {
    for (const issuer of options.issuers) {
      if (this.#byId.has(issuer.id)) throw new ByokError('config_invalid', `Two issuers share the id ${issuer.id}`);
      const client = new OidcClient(issuer, { redirectUri: `${options.baseUrl}/auth/callback/${issuer.id}`, clock: options.clock });
      this.#byId.set(issuer.id, client);
      this.#byUrl.set(issuer.issuer, client);
    }
  }

  /** The client of issuer id `issuerId`; `not_found` for an unknown one. */
  get(issuerId: string): OidcClient {
    const client = this.#byId.get(issuerId);
    if (!client) throw new ByokError('not_found', 'No such sign-in issuer');
    return client;
  }

  /** The client whose issuer URL (`iss`) is `issuer`, if one is configured. */
  byIssuerUrl(issuer: string): OidcClient | undefined {
    return this.#byUrl.get(issuer);
  }

  /** The issuer ids, in configuration order. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** Every configured client. */
  clients(): OidcClient[] {
    return [...this.#byId.values()];
  }
}
