import { describe, expect, it } from 'vitest';
import { UNKNOWN_IP, assertTrustProxy, clientIp, normalizeIp, rateLimitBucket } from '../src/http/client-ip';

describe('clientIp without trusted proxies (default)', () => {
  it('ignores X-Forwarded-For entirely', () => {
    expect(clientIp({ remoteAddress: '203.0.113.9', forwardedFor: '198.51.100.1' })).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: '203.0.113.9', forwardedFor: '198.51.100.1' }, false)).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: '203.0.113.9', forwardedFor: '198.51.100.1' }, 0)).toBe('203.0.113.9');
  });

  it('a client rotating X-Forwarded-For always lands in the same bucket', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const forged = `10.${i}.0.1, 192.0.2.${i}, 2001:db8::${i.toString(16)}`;
      seen.add(rateLimitBucket(clientIp({ remoteAddress: '::ffff:203.0.113.9', forwardedFor: forged })));
    }
    expect([...seen]).toEqual(['203.0.113.9']);
  });

  it('normalises the peer and reports a missing one as unknown', () => {
    expect(clientIp({ remoteAddress: '::ffff:203.0.113.9' })).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: '2001:DB8:0:0:0:0:0:1' })).toBe('2001:db8::1');
    expect(clientIp({ remoteAddress: undefined })).toBe(UNKNOWN_IP);
    expect(clientIp({ remoteAddress: 'not-an-ip' })).toBe(UNKNOWN_IP);
    expect(clientIp({ remoteAddress: null, forwardedFor: '203.0.113.9' }, 1)).toBe(UNKNOWN_IP);
  });
});

describe('clientIp with a hop count', () => {
  const xff = '198.51.100.1, 198.51.100.2, 10.0.0.5';
  it('takes the address the n-th proxy saw', () => {
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: xff }, 1)).toBe('10.0.0.5');
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: xff }, 2)).toBe('198.51.100.2');
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: xff }, 3)).toBe('198.51.100.1');
  });

  it('stops at the leftmost hop when the header is shorter than the count', () => {
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: xff }, 10)).toBe('198.51.100.1');
    expect(clientIp({ remoteAddress: '10.0.0.9' }, 2)).toBe('10.0.0.9');
  });

  it('a client prepending forged hops cannot move past the trusted count', () => {
    for (const forged of ['1.1.1.1', '1.1.1.1, 2.2.2.2', '6.6.6.6, 7.7.7.7, 8.8.8.8']) {
      // the one trusted proxy appends the real client (203.0.113.9) on the right
      expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: `${forged}, 203.0.113.9` }, 1)).toBe('203.0.113.9');
    }
  });

  it('joins several header lines, and stops at a malformed hop', () => {
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: ['198.51.100.1', '198.51.100.2'] }, 2)).toBe('198.51.100.1');
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: '198.51.100.1, garbage, 10.0.0.5' }, 3)).toBe('10.0.0.5');
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: 'unknown' }, 1)).toBe('10.0.0.9');
  });

  it('accepts ports and brackets in hops', () => {
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: '198.51.100.1:4711' }, 1)).toBe('198.51.100.1');
    expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: '[2001:db8::7]:443' }, 1)).toBe('2001:db8::7');
  });

  it('rejects a bad count', () => {
    expect(() => clientIp({ remoteAddress: '10.0.0.9' }, -1)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(() => assertTrustProxy(1.5)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });
});

describe('clientIp with trusted CIDRs', () => {
  const trust = ['10.0.0.0/8', 'fd00::/8', '2001:db8:ffff::1'];

  it('picks the rightmost untrusted hop', () => {
    expect(clientIp({ remoteAddress: '10.1.2.3', forwardedFor: '198.51.100.1, 203.0.113.9, 10.0.0.5' }, trust)).toBe('203.0.113.9');
  });

  it('ignores the header when the peer itself is not trusted', () => {
    expect(clientIp({ remoteAddress: '203.0.113.50', forwardedFor: '198.51.100.1' }, trust)).toBe('203.0.113.50');
  });

  it('matches IPv4 CIDRs against IPv4-mapped peers, and IPv6 CIDRs', () => {
    expect(clientIp({ remoteAddress: '::ffff:10.9.9.9', forwardedFor: '203.0.113.9' }, trust)).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: 'fd12:3456::1', forwardedFor: '2001:db8:1::5, fd00::2' }, trust)).toBe('2001:db8:1::5');
    expect(clientIp({ remoteAddress: '2001:db8:ffff::1', forwardedFor: '203.0.113.9' }, trust)).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: '2001:db8:ffff::2', forwardedFor: '203.0.113.9' }, trust)).toBe('2001:db8:ffff::2');
  });

  it('returns the leftmost hop when every hop is trusted', () => {
    expect(clientIp({ remoteAddress: '10.0.0.1', forwardedFor: '10.0.0.3, 10.0.0.2' }, trust)).toBe('10.0.0.3');
  });

  it('stops at a malformed hop', () => {
    expect(clientIp({ remoteAddress: '10.0.0.1', forwardedFor: '198.51.100.1, bogus' }, trust)).toBe('10.0.0.1');
  });

  it('knows the named ranges', () => {
    expect(clientIp({ remoteAddress: '127.0.0.1', forwardedFor: '203.0.113.9' }, ['loopback'])).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: '::1', forwardedFor: '203.0.113.9' }, ['loopback'])).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: '192.168.1.1', forwardedFor: '203.0.113.9' }, ['uniquelocal'])).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: '172.32.0.1', forwardedFor: '203.0.113.9' }, ['uniquelocal'])).toBe('172.32.0.1');
  });

  it('handles prefix lengths that are not byte-aligned', () => {
    expect(clientIp({ remoteAddress: '172.31.255.255', forwardedFor: '203.0.113.9' }, ['172.16.0.0/12'])).toBe('203.0.113.9');
    expect(clientIp({ remoteAddress: '172.15.255.255', forwardedFor: '203.0.113.9' }, ['172.16.0.0/12'])).toBe('172.15.255.255');
    expect(clientIp({ remoteAddress: '8.8.8.8', forwardedFor: '203.0.113.9' }, ['0.0.0.0/0'])).toBe('203.0.113.9');
  });

  it('rejects bad CIDRs up front', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'nonsense', '10.0.0.0/-1', '10.0.0.0/', 'constructor', 'toString', '10.0.0.1:80', '[::1]', ' 10.0.0.1']) {
      expect(() => assertTrustProxy([bad]), bad).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    }
    expect(() => assertTrustProxy(['10.0.0.0/8', '::1'])).not.toThrow();
  });
});

describe('clientIp with a trust function (as Express `trust proxy`)', () => {
  it('is asked per hop, peer first, with normalised addresses, and stops at the first untrusted one', () => {
    const calls: Array<[string, number]> = [];
    const trust = (address: string, hop: number) => {
      calls.push([address, hop]);
      return address.startsWith('10.');
    };
    const ip = clientIp({ remoteAddress: '::ffff:10.0.0.1', forwardedFor: '198.51.100.1, 203.0.113.9, 10.0.0.2' }, trust);
    expect(ip).toBe('203.0.113.9');
    expect(calls).toEqual([
      ['10.0.0.1', 0],
      ['10.0.0.2', 1],
      ['203.0.113.9', 2],
    ]);
  });

  it('trusting by hop index alone works like a hop count', () => {
    const xff = '198.51.100.1, 198.51.100.2, 10.0.0.5';
    for (const n of [1, 2, 3]) {
      expect(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: xff }, (_address, hop) => hop < n)).toBe(clientIp({ remoteAddress: '10.0.0.9', forwardedFor: xff }, n));
    }
  });

  it('returns the leftmost hop when every hop is trusted, never asking about it', () => {
    const seen: string[] = [];
    expect(clientIp({ remoteAddress: '10.0.0.1', forwardedFor: '203.0.113.9, 10.0.0.2' }, (a) => (seen.push(a), true))).toBe('203.0.113.9');
    expect(seen).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('ignores the header when the peer is not trusted, and stops at a malformed hop', () => {
    expect(clientIp({ remoteAddress: '203.0.113.50', forwardedFor: '198.51.100.1' }, () => false)).toBe('203.0.113.50');
    expect(clientIp({ remoteAddress: '10.0.0.1', forwardedFor: '198.51.100.1, bogus' }, () => true)).toBe('10.0.0.1');
    expect(clientIp({ remoteAddress: 'bogus', forwardedFor: '198.51.100.1' }, () => true)).toBe(UNKNOWN_IP);
  });

  it('passes validation up front', () => {
    expect(() => assertTrustProxy((address) => address === '127.0.0.1')).not.toThrow();
  });
});

describe('normalizeIp', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['192.0.2.1:8080', '192.0.2.1'],
    [' 192.0.2.1 ', '192.0.2.1'],
    ['::ffff:0:0', '0.0.0.0'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::102:304', '::1.2.3.4'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  it.each(['', 'localhost', '256.0.0.1', '1.2.3', '01.2.3.4', '2001:db8::g', '1:2:3:4:5:6:7:8:9'])('%j is not an IP', (input) => {
    expect(normalizeIp(input)).toBeNull();
  });
});

describe('rateLimitBucket', () => {
  it('keeps IPv4 and buckets IPv6 by /64', () => {
    expect(rateLimitBucket('203.0.113.9')).toBe('203.0.113.9');
    expect(rateLimitBucket('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(rateLimitBucket('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(rateLimitBucket('2001:db8:1:2::1')).toBe(rateLimitBucket('2001:db8:1:2:ffff::9'));
    expect(rateLimitBucket('2001:db8:1:3::1')).not.toBe(rateLimitBucket('2001:db8:1:2::1'));
    expect(rateLimitBucket('::1')).toBe('::/64');
    expect(rateLimitBucket('1::2:3:4:5:6:7')).toBe('1:0:2:3::/64');
    expect(rateLimitBucket('2001:db8::1.2.3.4')).toBe('2001:db8::/64');
    expect(rateLimitBucket('[2001:db8:0:0:1::]:443')).toBe('2001:db8::/64');
    expect(rateLimitBucket('unknown')).toBe('unknown');
  });
});
