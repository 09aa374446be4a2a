import { isIP } from 'node:net';
import { ByokError } from '../errors';

/**
 * Which proxies in front of the app are trusted to append to `X-Forwarded-For`:
 * `false` (default) trusts none and ignores the header; a number trusts that many hops
 * next to the app; a list trusts the peers inside those CIDRs (IPv4 or IPv6; a bare
 * address is a /32 or /128; `loopback`, `linklocal` and `uniquelocal` name the usual
 * ranges).
 */
export type TrustProxy = false | number | readonly string[];

/** What {@link clientIp} reads from a request. */
export interface ClientIpInput {
  /** The TCP peer (`req.socket.remoteAddress`). */
  remoteAddress: string | undefined | null;
  /** The `X-Forwarded-For` header: one value, or one per header line. */
  forwardedFor?: string | readonly string[] | undefined | null;
}

/** What {@link clientIp} returns when the peer address is missing or not an IP. */
export const UNKNOWN_IP = 'unknown';

const NAMED_RANGES: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

interface Cidr {
  bytes: Uint8Array;
  bits: number;
}

const compiled = new WeakMap<readonly string[], Cidr[]>();

/**
 * The client's address: walking `X-Forwarded-For` from the right, the first hop that
 * is not a trusted proxy. With the default (`trustProxy: false`) the header is ignored
 * entirely, so a client cannot rotate its apparent address by sending one. IPv4-mapped
 * IPv6 (`::ffff:192.0.2.1`) becomes plain IPv4, IPv6 is returned in RFC 5952 form, and a
 * malformed hop stops the walk at the last good one.
 *
 * @example
 * clientIp({ remoteAddress: '::ffff:10.0.0.2', forwardedFor: '198.51.100.7, 203.0.113.9' }, ['10.0.0.0/8']);
 * // → '203.0.113.9'
 * clientIp({ remoteAddress: '10.0.0.2', forwardedFor: '203.0.113.9' }, 1); // → '203.0.113.9'
 * clientIp({ remoteAddress: '10.0.0.2', forwardedFor: '203.0.113.9' }); // → '10.0.0.2'
 */
export function clientIp(input: ClientIpInput, trustProxy: TrustProxy = false): string {
  const peer = normalizeIp(input.remoteAddress ?? '');
  if (peer === null) return UNKNOWN_IP;
  if (trustProxy === false || trustProxy === 0) return peer;
  const hops = forwardedHops(input.forwardedFor);

  if (typeof trustProxy === 'number') {
    if (!Number.isInteger(trustProxy) || trustProxy < 0) {
      throw new ByokError('config_invalid', 'trustProxy must be false, a non-negative hop count or a list of CIDRs');
    }
    let current = peer;
    for (let i = 0; i < trustProxy; i++) {
      const next = hops[hops.length - 1 - i];
      const ip = next === undefined ? null : normalizeIp(next);
      if (ip === null) break;
      current = ip;
    }
    return current;
  }

  const trusted = compileTrustList(trustProxy);
  let current = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!matchesAny(current, trusted)) return current;
    const ip = normalizeIp(hops[i]!);
    if (ip === null) return current;
    current = ip;
  }
  return current;
}

/**
 * The key a rate limit counts under for an address: IPv4 as is, IPv6 by its /64
 * (one customer usually holds a whole /64, so per-address limits would be useless).
 *
 * @example
 * rateLimitBucket('2001:db8:1:2:aaaa::1'); // → '2001:db8:1:2::/64'
 * rateLimitBucket('203.0.113.9'); // → '203.0.113.9'
 */
export function rateLimitBucket(ip: string): string {
  const normalized = normalizeIp(ip);
  if (normalized === null) return ip;
  if (isIP(normalized) === 4) return normalized;
  const bytes = parseIpBytes(normalized)!;
  const prefix = new Uint8Array(16);
  prefix.set(bytes.subarray(0, 8));
  return `${formatIpv6(prefix)}/64`;
}

/**
 * Validates a `trustProxy` setting up front (throws `config_invalid`), so a typo in a
 * CIDR fails at start-up rather than on the first request.
 *
 * @example
 * assertTrustProxy(['10.0.0.0/8', 'fd00::/8']);
 */
export function assertTrustProxy(trustProxy: TrustProxy): void {
  if (trustProxy === false) return;
  if (typeof trustProxy === 'number') {
    if (!Number.isInteger(trustProxy) || trustProxy < 0) {
      throw new ByokError('config_invalid', 'trustProxy hop count must be a non-negative integer');
    }
    return;
  }
  compileTrustList(trustProxy);
}

/**
 * An address in canonical form (IPv4 dotted quad; IPv6 RFC 5952, zone id dropped,
 * IPv4-mapped unwrapped), or null if it is not an IP. Accepts `[v6]:port` and `v4:port`.
 *
 * @example
 * normalizeIp('::FFFF:192.0.2.1'); // → '192.0.2.1'
 * normalizeIp('[2001:DB8::0:1]:443'); // → '2001:db8::1'
 */
export function normalizeIp(value: string): string | null {
  let text = value.trim();
  if (text === '') return null;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/u.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}$/u.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  const version = isIP(text);
  if (version === 4) return text.split('.').map((part) => String(Number(part))).join('.');
  if (version !== 6) return null;
  const bytes = parseIpBytes(text);
  if (bytes === null) return null;
  if (isV4Mapped(bytes)) return Array.from(bytes.subarray(12)).join('.');
  return formatIpv6(bytes);
}

function forwardedHops(header: ClientIpInput['forwardedFor']): string[] {
  if (header === undefined || header === null) return [];
  const lines = typeof header === 'string' ? [header] : header;
  const hops: string[] = [];
  for (const line of lines) {
    for (const part of line.split(',')) {
      const hop = part.trim();
      if (hop !== '') hops.push(hop);
    }
  }
  return hops;
}

function compileTrustList(list: readonly string[]): Cidr[] {
  const cached = compiled.get(list);
  if (cached) return cached;
  const out: Cidr[] = [];
  for (const entry of list) {
    const named = NAMED_RANGES[entry];
    for (const cidr of named ?? [entry]) out.push(parseCidr(cidr));
  }
  compiled.set(list, out);
  return out;
}

function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const ip = normalizeIp(address);
  const bytes = ip === null ? null : parseIpBytes(ip);
  if (bytes === null) throw new ByokError('config_invalid', `trustProxy entry is not an IP or CIDR: ${text}`);
  const v4 = isIP(ip!) === 4;
  const max = v4 ? 32 : 128;
  const bitsText = slash === -1 ? String(max) : text.slice(slash + 1);
  const bits = Number(bitsText);
  if (!/^\d{1,3}$/u.test(bitsText) || bits > max) {
    throw new ByokError('config_invalid', `trustProxy entry has a bad prefix length: ${text}`);
  }
  // IPv4 ranges are held as IPv4-mapped IPv6 so one comparison covers both families.
  return { bytes, bits: v4 ? bits + 96 : bits };
}

function matchesAny(ip: string, cidrs: readonly Cidr[]): boolean {
  const bytes = parseIpBytes(ip);
  if (bytes === null) return false;
  return cidrs.some((cidr) => inCidr(bytes, cidr));
}

function inCidr(bytes: Uint8Array, cidr: Cidr): boolean {
  let bits = cidr.bits;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}

/** 16 bytes for any valid IP (IPv4 as IPv4-mapped IPv6), or null. */
function parseIpBytes(ip: string): Uint8Array | null {
  const version = isIP(ip);
  const bytes = new Uint8Array(16);
  if (version === 4) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    ip.split('.').forEach((part, i) => {
      bytes[12 + i] = Number(part);
    });
    return bytes;
  }
  if (version !== 6) return null;
  let text = ip.toLowerCase();
  // A trailing dotted quad ("::ffff:1.2.3.4") becomes two hextets.
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/u.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const groups = [...headParts, ...(tail === undefined ? [] : Array<string>(missing).fill('0')), ...tailParts];
  if (groups.length !== 8) return null;
  groups.forEach((group, i) => {
    const n = Number.parseInt(group, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return bytes;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** RFC 5952: lower case, leading zeros dropped, the longest run (≥ 2) of zero groups as "::". */
function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}
