import { BlockList, SocketAddress, isIP } from 'node:net';
import { ByokError } from '../errors';

/**
 * Decides whether the address at one hop is a trusted proxy, as Express's `trust proxy`
 * function does: hop 0 is the TCP peer, hop 1 the rightmost `X-Forwarded-For` entry, and
 * so on leftwards. The address is normalised (IPv4-mapped IPv6 unwrapped, IPv6 in RFC 5952
 * form). The walk stops at the first hop it returns false for.
 */
export type TrustProxyFunction = (address: string, hopIndex: number) => boolean;

/**
 * Which proxies in front of the app are trusted to append to `X-Forwarded-For`:
 * `false` (default) trusts none and ignores the header; a number trusts that many hops
 * next to the app; a list trusts the peers inside those CIDRs (IPv4 or IPv6; a bare
 * address is a /32 or /128; `loopback`, `linklocal` and `uniquelocal` name the usual
 * ranges); a function decides per hop ({@link TrustProxyFunction}).
 */
export type TrustProxy = false | number | readonly string[] | TrustProxyFunction;

/** What {@link clientIp} reads from a request. */
export interface ClientIpInput {
  /** The TCP peer (`req.socket.remoteAddress`). */
  remoteAddress: string | undefined | null;
  /** The `X-Forwarded-For` header: one value, or one per header line. */
  forwardedFor?: string | readonly string[] | undefined | null;
}

/** What {@link clientIp} returns when the peer address is missing or not an IP. */
export const UNKNOWN_IP = 'unknown';

const NAMED_RANGES = new Map<string, readonly string[]>([
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['linklocal', ['169.254.0.0/16', 'fe80::/10']],
  ['uniquelocal', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']],
]);

const compiled = new WeakMap<readonly string[], BlockList>();

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
 * clientIp({ remoteAddress: '10.0.0.2', forwardedFor: '203.0.113.9' }, (address, hop) => hop === 0);
 * // → '203.0.113.9' (only the peer itself is trusted)
 */
export function clientIp(input: ClientIpInput, trustProxy: TrustProxy = false): string {
  const peer = normalizeIp(input.remoteAddress ?? '');
  if (peer === null) return UNKNOWN_IP;
  if (trustProxy === false || trustProxy === 0) return peer;
  const hops = forwardedHops(input.forwardedFor);

  if (typeof trustProxy === 'number') {
    if (!Number.isInteger(trustProxy) || trustProxy < 0) {
      throw new ByokError('config_invalid', 'trustProxy must be false, a non-negative hop count, a list of CIDRs or a function');
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

  const trusts = typeof trustProxy === 'function' ? trustProxy : listTrust(compileTrustList(trustProxy));
  let current = peer;
  for (let hop = 0; hop < hops.length; hop++) {
    if (!trusts(current, hop)) return current;
    const ip = normalizeIp(hops[hops.length - 1 - hop]!);
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
  return `${canonicalIp(network64(normalized))}/64`;
}

/**
 * Validates a `trustProxy` setting up front (throws `config_invalid`), so a typo in a
 * CIDR fails at start-up rather than on the first request.
 *
 * @example
 * assertTrustProxy(['10.0.0.0/8', 'fd00::/8']);
 * assertTrustProxy((address) => address.startsWith('10.'));
 */
export function assertTrustProxy(trustProxy: TrustProxy): void {
  if (trustProxy === false || typeof trustProxy === 'function') return;
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
  return canonicalIp(text);
}

/** The address as Node formats it (`net.SocketAddress`), IPv4-mapped IPv6 unwrapped; null if not an IP. */
function canonicalIp(text: string): string | null {
  const version = isIP(text);
  if (version === 0) return null;
  // isIP accepts IPv4 only in its one dotted-decimal form (no leading zeros): it is canonical.
  if (version === 4) return text;
  const known = canonicalV6.get(text);
  if (known !== undefined) return known;
  const address = canonicalV6Of(text);
  if (canonicalV6.size >= 1_024) canonicalV6.clear();
  canonicalV6.set(text, address);
  return address;
}

/** IPv6 text → its canonical form (or null), for the addresses seen lately: parsing one costs more than the rest of a request's IP handling. */
const canonicalV6 = new Map<string, string | null>();

function canonicalV6Of(text: string): string | null {
  let address: string;
  try {
    address = new SocketAddress({ address: text, family: 'ipv6' }).address;
  } catch {
    return null;
  }
  if (address.startsWith(V4_MAPPED) && isIP(address.slice(V4_MAPPED.length)) === 4) return address.slice(V4_MAPPED.length);
  return address;
}

const V4_MAPPED = '::ffff:';

/** `a:b:c:d::` for a canonical IPv6 address: its first 64 bits. */
function network64(address: string): string {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const groups = head === '' ? [] : head.split(':');
  if (tail !== undefined) {
    const tailGroups = tail === '' ? [] : tail.split(':');
    // a trailing dotted quad ("::1.2.3.4") stands for two groups
    const tailCount = tailGroups.reduce((n, group) => n + (group.includes('.') ? 2 : 1), 0);
    for (let i = groups.length + tailCount; i < 8; i++) groups.push('0');
    groups.push(...tailGroups);
  }
  return `${groups.slice(0, 4).join(':')}::`;
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

function listTrust(list: BlockList): TrustProxyFunction {
  return (address) => list.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
}

/** The trusted ranges as a `net.BlockList` (IPv4 rules also match IPv4-mapped IPv6), built once per list. */
function compileTrustList(list: readonly string[]): BlockList {
  const cached = compiled.get(list);
  if (cached) return cached;
  if (!Array.isArray(list)) throw new ByokError('config_invalid', 'trustProxy must be false, a non-negative hop count, a list of CIDRs or a function');
  const blockList = new BlockList();
  for (const entry of list) {
    if (typeof entry !== 'string') throw new ByokError('config_invalid', 'trustProxy entries must be strings');
    for (const cidr of NAMED_RANGES.get(entry) ?? [entry]) addCidr(blockList, cidr);
  }
  compiled.set(list, blockList);
  return blockList;
}

function addCidr(list: BlockList, text: string): void {
  const slash = text.indexOf('/');
  const ip = canonicalIp(slash === -1 ? text : text.slice(0, slash));
  if (ip === null) throw new ByokError('config_invalid', `trustProxy entry is not an IP or CIDR: ${text}`);
  const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  const bitsText = slash === -1 ? String(max) : text.slice(slash + 1);
  const bits = Number(bitsText);
  if (!/^\d{1,3}$/u.test(bitsText) || bits > max) {
    throw new ByokError('config_invalid', `trustProxy entry has a bad prefix length: ${text}`);
  }
  list.addSubnet(ip, bits, family);
}
