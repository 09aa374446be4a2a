import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@byok/core';
import { CONFIGURATION_MD, ERROR_CODES_MD, generateReferenceDocs } from '../scripts/gen-docs.mjs';
import { root } from './workspace';

// docs/reference/*.md are generated from the code (scripts/gen-docs.mjs); a change to
// ByokOptions or ERROR_CODES without regenerating them fails here.
describe('generated reference docs', () => {
  const generated = generateReferenceDocs({ root });

  it.each([CONFIGURATION_MD, ERROR_CODES_MD])('%s matches the code (run node scripts/gen-docs.mjs)', (path) => {
    const committed = readFileSync(`${root}${path}`, 'utf8');
    expect(committed, `${path} is out of date: run node scripts/gen-docs.mjs`).toBe(generated[path]);
  });

  it('the error table has every code, its HTTP status and tRPC code, and a meaning for each', () => {
    const rows = new Map(
      generated[ERROR_CODES_MD]!
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .map((line) => {
          const [code, status, trpc, meaning] = line.slice(2, -2).split(' | ');
          return [code!.replaceAll('`', ''), { status: Number(status), trpc: trpc!.replaceAll('`', ''), meaning: meaning ?? '' }];
        }),
    );
    expect([...rows.keys()]).toEqual(Object.keys(ERROR_CODES));
    for (const [code, { status, trpc }] of Object.entries(ERROR_CODES)) {
      expect(rows.get(code), code).toMatchObject({ status, trpc });
      expect(rows.get(code)!.meaning.trim(), `ERROR_CODES.${code} has no comment in packages/core/src/errors.ts`).not.toBe('');
    }
  });

  it('the configuration reference lists every top-level option and the nested option objects', () => {
    const paths = generated[CONFIGURATION_MD]!.split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.slice(3, line.indexOf('`', 3)));
    const source = readFileSync(`${root}packages/core/src/byok.ts`, 'utf8');
    const body = source.slice(source.indexOf('export interface ByokOptions {'));
    const topLevel = [...body.slice(0, body.indexOf('\n}\n')).matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]);
    expect(topLevel.length).toBeGreaterThan(5);
    for (const option of topLevel) expect(paths, option).toContain(option);
    for (const nested of ['auth.issuers', 'auth.cookieSecret', 'auth.jwt.alg', 'audit.checkpoints.signingKey', 'audit.checkpoints.sinks']) {
      expect(paths).toContain(nested);
    }
  });
});
