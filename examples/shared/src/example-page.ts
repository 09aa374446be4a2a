import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByokError } from '@byok/core';
import type { ExamplePageConfig } from './example-setup.js';

/** The page's own files: no framework, no build step. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/markdown.js': { file: 'markdown.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/**
 * Where @byok/client's browser ESM build and its one dependency are on disk. The build is
 * `packages/client/dist` (`pnpm --filter @byok/client build`; the root's start command
 * builds every package).
 *
 * @throws ByokError `config_invalid` when the client has not been built
 */
export function clientBuildFiles(): { client: string; eventsourceParser: string } {
  const resolver = createRequire(import.meta.url);
  const clientDir = dirname(resolver.resolve('@byok/client/package.json'));
  const client = join(clientDir, 'dist', 'index.js');
  if (!existsSync(client)) {
    throw new ByokError('config_invalid', `The page needs @byok/client's browser build (${client}): run pnpm --filter @byok/client build`);
  }
  const parserDir = dirname(createRequire(join(clientDir, 'package.json')).resolve('eventsource-parser/package.json'));
  return { client, eventsourceParser: join(parserDir, 'dist', 'index.js') };
}

/** A Node request handler for the page; true when it answered, false to let the host go on. */
export type PageHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Serves the example page — `/`, its scripts and styles, `/vendor/byok-client.js` (the
 * browser ESM build of @byok/client) and `/vendor/eventsource-parser.js` (its SSE
 * parser, named by the page's import map), and `/example/config.json` — with a strict
 * Content-Security-Policy (scripts from this origin and the import map's hash only).
 * Anything else it leaves to the host.
 *
 * @example
 * const page = examplePageHandler(prepared.pageConfig);
 * app.use((req, res, next) => page(req, res) || next());
 */
export function examplePageHandler(pageConfig: ExamplePageConfig): PageHandler {
  const vendor = clientBuildFiles();
  const html = readFileSync(join(PUBLIC_DIR, 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1];
  if (importMap === undefined) throw new ByokError('config_invalid', 'index.html has no import map');
  const importMapHash = createHash('sha256').update(importMap, 'utf8').digest('base64');
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'sha256-${importMapHash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; ');
  const files = new Map<string, { body: Buffer; type: string }>();
  files.set('/', { body: Buffer.from(html, 'utf8'), type: 'text/html; charset=utf-8' });
  files.set('/index.html', files.get('/')!);
  for (const [path, { file, type }] of Object.entries(PAGE_FILES)) files.set(path, { body: readFileSync(join(PUBLIC_DIR, file)), type });
  files.set('/vendor/byok-client.js', { body: readFileSync(vendor.client), type: 'text/javascript; charset=utf-8' });
  files.set('/vendor/eventsource-parser.js', { body: readFileSync(vendor.eventsourceParser), type: 'text/javascript; charset=utf-8' });
  const config = Buffer.from(JSON.stringify(pageConfig), 'utf8');

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0]!;
    let found = files.get(path);
    if (path === '/example/config.json') found = { body: config, type: 'application/json; charset=utf-8' };
    if (!found) return false;
    res.statusCode = 200;
    res.setHeader('content-type', found.type);
    res.setHeader('content-length', String(found.body.length));
    res.setHeader('content-security-policy', csp);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    res.setHeader('cache-control', 'no-store');
    res.end(req.method === 'HEAD' ? undefined : found.body);
    return true;
  };
}
