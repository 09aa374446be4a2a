import { randomBytes } from 'node:crypto';

let lastMs = 0;
let lastRand: Uint8Array = new Uint8Array(10);

/**
 * A UUIDv7 (RFC 9562): 48-bit ms timestamp, version 7, 74 random bits. Within one
 * millisecond the random part is incremented, so ids made in one process sort in order.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  let ms = now;
  let rand: Uint8Array;
  if (ms <= lastMs) {
    ms = lastMs;
    rand = increment(lastRand);
  } else {
    rand = new Uint8Array(randomBytes(10));
    rand[0]! &= 0x0f; // leave headroom so increments rarely overflow
  }
  lastMs = ms;
  lastRand = rand;
  bytes[0] = (ms / 2 ** 40) & 0xff;
  bytes[1] = (ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | (rand[0]! & 0x0f);
  bytes[7] = rand[1]!;
  bytes[8] = 0x80 | (rand[2]! & 0x3f);
  for (let i = 9; i < 16; i++) bytes[i] = rand[i - 6]!;
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function increment(prev: Uint8Array): Uint8Array {
  const next = new Uint8Array(prev);
  for (let i = next.length - 1; i >= 0; i--) {
    if (i === 2) {
      // byte 2 only keeps 6 bits in the UUID; carry past it through its low bits
      if ((next[i]! & 0x3f) !== 0x3f) {
        next[i] = next[i]! + 1;
        return next;
      }
      next[i] = next[i]! & 0xc0;
      continue;
    }
    if (next[i] !== 0xff) {
      next[i] = next[i]! + 1;
      return next;
    }
    next[i] = 0;
  }
  return next;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a lower-case hyphenated UUID string (the only shape byok stores). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}
