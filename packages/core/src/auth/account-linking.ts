import type { OidcIssuerConfig } from './issuers';

/** Account linking settings (`auth.linking`). Off unless `enabled`. */
export interface LinkingOptions {
  /** Default false: every (issuer, subject) is its own user. */
  enabled?: boolean;
  /**
   * Default false: linking needs an explicit action while signed in (`POST
   * /auth/link/:issuer`). When true, a first sign-in with a new identity joins the one
   * existing user with the same verified e-mail, if the issuer is authoritative for it;
   * two or more such users, or none, make a new user as usual.
   */
  automatic?: boolean;
  /**
   * E-mail domains a generic `oidc()` issuer is authoritative for, by issuer id (e.g. a
   * company's Okta for `example.com`). Google's rules are built in; a development issuer
   * is never authoritative.
   */
  authoritativeDomains?: Readonly<Record<string, readonly string[]>>;
}

/** What the new identity asserts, for {@link isAuthoritativeForEmail}. */
export interface AssertedEmail {
  email: string | null;
  emailVerified: boolean;
  /** Google's `hd` claim. */
  hostedDomain: string | null;
}

/**
 * Whether `issuer` may vouch for `asserted.email` when linking: the address must be
 * verified, and the issuer must own the mailbox — Google for `@gmail.com` or when its
 * `hd` claim equals the address's domain; a generic issuer for the domains the host
 * listed; a development issuer never.
 *
 * @example
 * isAuthoritativeForEmail(googleIssuer, { email: 'a@gmail.com', emailVerified: true, hostedDomain: null }, {}); // → true
 * isAuthoritativeForEmail(googleIssuer, { email: 'a@corp.example', emailVerified: true, hostedDomain: null }, {}); // → false
 */
export function isAuthoritativeForEmail(issuer: OidcIssuerConfig, asserted: AssertedEmail, options: LinkingOptions): boolean {
  if (issuer.kind === 'dev' || !asserted.emailVerified || !asserted.email) return false;
  const at = asserted.email.lastIndexOf('@');
  if (at <= 0) return false;
  const domain = asserted.email.slice(at + 1).toLowerCase();
  if (issuer.kind === 'google') {
    return domain === 'gmail.com' || (asserted.hostedDomain !== null && asserted.hostedDomain.toLowerCase() === domain);
  }
  const domains = options.authoritativeDomains?.[issuer.id] ?? [];
  return domains.some((d) => d.toLowerCase() === domain);
}

/**
 * Normalises an address for comparison between two identities (case-insensitive).
 *
 * @example
 * sameEmail('A@Gmail.com', 'a@gmail.com'); // → true
 */
export function sameEmail(a: string | null, b: string | null): boolean {
  return a !== null && b !== null && a.trim().toLowerCase() === b.trim().toLowerCase();
}
