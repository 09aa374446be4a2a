import { ByokError } from '../errors';

/** The values byok canonicalises: JSON's own types, with finite numbers only. */
export type CanonicalJsonValue =
  | string
  | number
  | boolean
  | null
  | readonly CanonicalJsonValue[]
  | { readonly [key: string]: CanonicalJsonValue | undefined };

/**
 * Serialises a value as RFC 8785 (JSON Canonicalization Scheme) text: no whitespace,
 * object members sorted by the UTF-16 code units of their names, strings escaped as
 * ECMAScript's `JSON.stringify` does, numbers formatted by ECMAScript's
 * `Number.prototype.toString` (which is what RFC 8785 specifies, `-0` becoming `0`).
 *
 * Rejected with a `validation_failed` ByokError: `NaN` and `±Infinity`, lone UTF-16
 * surrogates (not I-JSON), and anything that is not a JSON value (`undefined` outside
 * an object member, functions, symbols, bigints, class instances such as `Date`, `Map`).
 * Object members whose value is `undefined` are left out, as `JSON.stringify` does.
 * Hash or sign the UTF-8 bytes of the result.
 *
 * @example
 * canonicalJson({ b: [1e30, 4.5], a: '€' }) // → '{"a":"€","b":[1e+30,4.5]}'
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, 0, '$');
}

const MAX_DEPTH = 64;

function serialise(value: unknown, depth: number, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw invalid(path, 'is not a finite number');
      // Number.prototype.toString is the RFC 8785 number serialisation; -0 prints as 0.
      return String(value);
    case 'string':
      return serialiseString(value, path);
    case 'object':
      break;
    default:
      throw invalid(path, `is a ${typeof value}, not a JSON value`);
  }
  if (depth >= MAX_DEPTH) throw invalid(path, 'is nested too deeply');
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined) throw invalid(`${path}[${i}]`, 'is undefined');
      parts.push(serialise(item, depth + 1, `${path}[${i}]`));
    }
    return `[${parts.join(',')}]`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw invalid(path, 'is not a plain object');
  const record = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, exactly RFC 8785 §3.2.3.
  const keys = Object.keys(record).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    parts.push(`${serialiseString(key, path)}:${serialise(member, depth + 1, `${path}.${key}`)}`);
  }
  return `{${parts.join(',')}}`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function serialiseString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw invalid(path, 'contains a lone UTF-16 surrogate');
  // For well-formed strings JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 requires:
  // \" \\ \b \f \n \r \t, other C0 controls as \u00xx (lower-case hex), nothing else.
  return JSON.stringify(value);
}

function invalid(path: string, what: string): ByokError {
  return new ByokError('validation_failed', `Cannot canonicalise JSON: ${path} ${what}`);
}
