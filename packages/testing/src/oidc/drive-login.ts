import { CookieJar } from './cookie-jar';

/** Options for {@link driveLogin}. */
export interface DriveLoginOptions {
  /** The `sub` of a configured dev issuer user to sign in as. */
  login: string;
  /** Keep the issuer's session across calls (a second login then skips the pages). */
  cookieJar?: CookieJar;
  /** Press "Cancel" on the first page instead (the callback gets `error=access_denied`). */
  abort?: boolean;
  /** Upper bound on requests made (default 15). */
  maxSteps?: number;
}

/**
 * Plays the browser at the development issuer: GET the authorization URL, follow its
 * redirects to the login page, POST the login, POST the consent, and stop at the first
 * redirect that leaves the issuer — the relying party's callback URL, with `code` and
 * `state` (or `error`). Uses `fetch` with manual redirects and a small cookie jar.
 *
 * @returns the callback URL the issuer redirected to
 * @example
 * const issuer = await startDevIssuer(); // byok configured with oidc({ id: 'dev', issuer: issuer.issuer, … })
 * const { url } = await byok.auth.startLogin('dev', { returnTo: '/' });
 * const callbackUrl = await driveLogin(url, { login: 'alice' }); // …/auth/callback/dev?code=…&state=…
 */
export async function driveLogin(authorizationUrl: string | URL, options: DriveLoginOptions): Promise<string> {
  const jar = options.cookieJar ?? new CookieJar();
  const issuerOrigin = new URL(authorizationUrl).origin;
  let url = new URL(authorizationUrl);
  let init: RequestInit = { method: 'GET' };
  const maxSteps = options.maxSteps ?? 15;

  for (let step = 0; step < maxSteps; step++) {
    const headers = new Headers(init.headers);
    const cookie = jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(url, response.headers);

    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (!location) throw new Error(`driveLogin: ${response.status} without Location at ${url.pathname}`);
      const next = new URL(location, url);
      if (next.origin !== issuerOrigin) return next.href;
      url = next;
      init = { method: 'GET' };
      continue;
    }

    const body = await response.text();
    const form = /<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*data-prompt="(login|consent)"/iu.exec(body);
    if (response.status !== 200 || !form) {
      throw new Error(`driveLogin: unexpected ${response.status} at ${url.pathname}: ${body.slice(0, 300)}`);
    }
    const [, action, prompt] = form as unknown as [string, string, 'login' | 'consent'];
    if (options.abort) {
      url = new URL(`${action}/abort`, url);
      init = { method: 'GET' };
      continue;
    }
    const fields = new URLSearchParams({ prompt });
    if (prompt === 'login') fields.set('login', options.login);
    url = new URL(action, url);
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: fields.toString(),
    };
  }
  throw new Error(`driveLogin: no callback after ${maxSteps} requests`);
}
