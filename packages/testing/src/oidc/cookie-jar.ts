interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expiresAt: number | null;
}

/**
 * A minimal cookie jar for driving HTTP flows with `fetch` in tests: host-only
 * cookies, path matching, `Max-Age`/`Expires` and deletion. No public-suffix logic,
 * no `Domain` widening: enough for loopback servers, not for the web.
 *
 * @example
 * const jar = new CookieJar();
 * const url = 'http://127.0.0.1:4000/login';
 * const res = await fetch(url, { headers: { cookie: jar.header(url) }, redirect: 'manual' });
 * jar.store(url, res.headers);
 */
export class CookieJar {
  #cookies: StoredCookie[] = [];

  /** Records the `Set-Cookie` headers of a response to a request for `url`. */
  store(url: string | URL, headers: Headers): void {
    const target = new URL(url);
    for (const line of headers.getSetCookie()) this.#storeLine(target, line);
  }

  /** The `Cookie` header value to send to `url` ('' when none). */
  header(url: string | URL): string {
    const target = new URL(url);
    const now = Date.now();
    this.#cookies = this.#cookies.filter((c) => c.expiresAt === null || c.expiresAt > now);
    return this.#cookies
      .filter((c) => c.host === target.host && pathMatches(target.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** The value of a cookie visible at `url`, if any. */
  get(url: string | URL, name: string): string | undefined {
    const target = new URL(url);
    return this.#cookies.find((c) => c.name === name && c.host === target.host && pathMatches(target.pathname, c.path))
      ?.value;
  }

  /** Forgets every cookie. */
  clear(): void {
    this.#cookies = [];
  }

  #storeLine(target: URL, line: string): void {
    const [pair = '', ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let path = defaultPath(target.pathname);
    let expiresAt: number | null = null;
    for (const attribute of attributes) {
      const [rawKey = '', ...rest] = attribute.split('=');
      const key = rawKey.trim().toLowerCase();
      const attrValue = rest.join('=').trim();
      if (key === 'path' && attrValue.startsWith('/')) path = attrValue;
      else if (key === 'max-age' && /^-?\d+$/u.test(attrValue)) expiresAt = Date.now() + Number(attrValue) * 1000;
      else if (key === 'expires' && expiresAt === null) {
        const at = Date.parse(attrValue);
        if (!Number.isNaN(at)) expiresAt = at;
      }
    }
    this.#cookies = this.#cookies.filter((c) => !(c.name === name && c.host === target.host && c.path === path));
    if (expiresAt !== null && expiresAt <= Date.now()) return;
    this.#cookies.push({ name, value, host: target.host, path, expiresAt });
  }
}

function defaultPath(pathname: string): string {
  const slash = pathname.lastIndexOf('/');
  return slash <= 0 ? '/' : pathname.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}
