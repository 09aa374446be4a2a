/**
 * A short device label from a User-Agent ("Firefox on Linux"), for the session list.
 *
 * @example
 * describeDevice('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'); // → 'Firefox on Linux'
 */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const ua = userAgent;
  const browser = /Edg\//u.test(ua)
    ? 'Edge'
    : /OPR\//u.test(ua)
      ? 'Opera'
      : /Firefox\//u.test(ua)
        ? 'Firefox'
        : /Chrome\//u.test(ua)
          ? 'Chrome'
          : /Safari\//u.test(ua)
            ? 'Safari'
            : /curl\//u.test(ua)
              ? 'curl'
              : /node|undici/iu.test(ua)
                ? 'Node.js'
                : 'Browser';
  const os = /Android/u.test(ua)
    ? 'Android'
    : /iPhone|iPad|iOS/u.test(ua)
      ? 'iOS'
      : /Windows/u.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/u.test(ua)
          ? 'macOS'
          : /CrOS/u.test(ua)
            ? 'ChromeOS'
            : /Linux/u.test(ua)
              ? 'Linux'
              : null;
  return os ? `${browser} on ${os}` : browser;
}
