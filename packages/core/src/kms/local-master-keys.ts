import { ByokError } from '../errors';

/** One parsed master key version. The bytes are the caller's to import and zero. */
export interface LocalMasterKey {
  readonly version: number;
  readonly material: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MASTER_KEY_BYTES = 32;

/**
 * Parses master keys in the `BYOK_MASTER_KEYS` format: entries `<version>:<base64 of 32
 * bytes>` separated by commas or newlines (a key file may add `#` comment lines), e.g.
 * `2:<base64>,1:<base64>`. Versions are positive integers, each at most once.
 * Errors are `config_invalid` and name the entry and the rule, never the key material.
 *
 * @example
 * parseMasterKeys(process.env.BYOK_MASTER_KEYS ?? '', 'BYOK_MASTER_KEYS')
 */
export function parseMasterKeys(text: string, source: string): LocalMasterKey[] {
  if (typeof text !== 'string') throw new ByokError('config_invalid', `${source}: master keys must be a string`);
  const entries = text
    .split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) {
    throw new ByokError('config_invalid', `${source} holds no master key; expected entries like "1:<base64 of 32 random bytes>"`);
  }
  const keys: LocalMasterKey[] = [];
  const seen = new Set<number>();
  entries.forEach((entry, index) => {
    const where = `${source}, entry ${index + 1}`;
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new ByokError('config_invalid', `${where}: expected "<version>:<base64 key>"`);
    const versionText = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!/^[0-9]{1,10}$/.test(versionText)) {
      throw new ByokError('config_invalid', `${where}: the version must be a positive integer`);
    }
    const version = Number(versionText);
    if (version < 1 || version > 0xffffffff) throw new ByokError('config_invalid', `${where}: the version must be from 1 to 4294967295`);
    if (seen.has(version)) throw new ByokError('config_invalid', `${where}: version ${version} appears more than once`);
    seen.add(version);
    if (encoded === '' || !(BASE64.test(encoded) || BASE64URL.test(encoded))) {
      throw new ByokError('config_invalid', `${where}: the key is not valid base64`);
    }
    const material = Buffer.from(encoded, BASE64.test(encoded) ? 'base64' : 'base64url');
    if (material.length !== MASTER_KEY_BYTES) {
      const size = material.length;
      material.fill(0);
      throw new ByokError('config_invalid', `${where}: the key is ${size} bytes; a master key must be exactly 32 bytes (256 bits)`);
    }
    keys.push({ version, material });
  });
  return keys.sort((a, b) => b.version - a.version);
}
