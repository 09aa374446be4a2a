import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, driveLogin } from '@byok/testing/oidc';
import { chatOnce, launchChromium } from '../../shared/test/page-smoke.js';

const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));
const TSC = createRequire(join(EXAMPLE_DIR, 'package.json')).resolve('typescript/bin/tsc');
const SHARED_DIR = fileURLToPath(new URL('../../shared', import.meta.url));
const TSUP = createRequire(join(SHARED_DIR, 'package.json')).resolve('tsup/dist/cli-default.js');

/**
 * The NestJS example as a host builds and runs it: a CommonJS Nest 11 app compiled by
 * `tsc` (decorator metadata on, node-next resolution) that imports @byok/nest's built
 * CommonJS entry, started with this Node, offline, and called over HTTP.
 */
describe('examples/nest-server: a CommonJS NestJS 11 app compiled with tsc', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'byok-nest-example-'));
  let child: ChildProcess;
  let output = '';
  let url: string;

  beforeAll(async () => {
    // The CommonJS build of @byok/example-shared that this app requires (its `build` script does the same).
    const shared = spawnSync(process.execPath, [TSUP], { cwd: SHARED_DIR, encoding: 'utf8', timeout: 60_000 });
    expect(shared.status, shared.stdout + shared.stderr).toBe(0);
    const build = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.build.json', '--pretty', 'false'], { cwd: EXAMPLE_DIR, encoding: 'utf8', timeout: 170_000 });
    expect(build.stdout + build.stderr).toBe('');
    expect(build.status).toBe(0);

    child = spawn(process.execPath, ['dist/server.js'], {
      cwd: EXAMPLE_DIR,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: '0', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const deadline = Date.now() + 60_000;
    while (!/listening on (http:\/\/\S+)\n[\s\S]*Gemini stand-in/.test(output)) {
      if (child.exitCode !== null) throw new Error(`the example exited (${child.exitCode}):\n${output}`);
      if (Date.now() > deadline) throw new Error(`the example did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    url = /listening on (http:\/\/\S+)/.exec(output)![1]!;
  }, 240_000);
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('compiles to CommonJS', () => {
    expect(JSON.parse(readFileSync(join(EXAMPLE_DIR, 'package.json'), 'utf8')).type).toBe('commonjs');
    const server = readFileSync(join(EXAMPLE_DIR, 'dist/server.js'), 'utf8');
    expect(server).toMatch(/^"use strict";/);
    expect(server).toContain('require("./start-example")');
    expect(readFileSync(join(EXAMPLE_DIR, 'dist/app.module.js'), 'utf8')).toContain('require("@byok/nest")');
    expect(readFileSync(join(EXAMPLE_DIR, 'dist/start-example.js'), 'utf8')).toContain('require("@byok/example-shared")');
  });

  it('says it runs offline, on loopback, and serves the shared chat page with @byok/client’s browser build', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output).toContain('OFFLINE MODE');
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self' 'sha256-/);
    const html = await page.text();
    expect(html).toBe(readFileSync(join(SHARED_DIR, 'public/index.html'), 'utf8'));
    const client = await fetch(`${url}/vendor/byok-client.js`);
    expect(client.headers.get('content-type')).toContain('text/javascript');
    expect(await client.text()).toContain('createByokClient');
    const config = (await (await fetch(`${url}/example/config.json`)).json()) as { mode: string; host: string };
    expect(config).toMatchObject({ mode: 'offline', host: 'NestJS' });
  });

  it('serves /api/openapi.json', async () => {
    const res = await fetch(`${url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/me', '/auth/login/{issuer}']));
  });

  it('answers /api/me 401 signed out, and with the user after signing in through the development issuer', async () => {
    let res = await fetch(`${url}/api/me`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');

    const jar = new CookieJar();
    res = await fetch(`${url}/api/auth/login/dev?returnTo=/`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    jar.store(url, res.headers);
    const callback = await driveLogin(res.headers.get('location')!, { login: 'alice' });
    expect(callback.startsWith(`${url}/api/auth/callback/dev?`)).toBe(true);
    res = await fetch(callback, { headers: { cookie: jar.header(callback) }, redirect: 'manual' });
    expect(res.status).toBe(303);
    jar.store(url, res.headers);

    res = await fetch(`${url}/api/me`, { headers: { cookie: jar.header(`${url}/api/me`) } });
    expect(res.status).toBe(200);
    const me = (await res.json()) as { id: string; name: string };
    expect(me.name).toBe('Alice Example');

    // The host's own route behind ByokAuthGuard (global), with @CurrentUser().
    res = await fetch(`${url}/example/whoami`, { headers: { cookie: jar.header(`${url}/example/whoami`) } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: me.id, name: 'Alice Example', keys: expect.any(Array) });
    res = await fetch(`${url}/example/whoami`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
    res = await fetch(`${url}/example/info`); // @Public()
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ mode: 'offline', host: 'NestJS' });
  });

  it('serves the shared chat page: in a browser it signs in, stores a key and streams a reply through ByokModule', { timeout: 45_000 }, async () => {
    const browser = await launchChromium();
    try {
      const { reply, problems } = await chatOnce(browser, { url, host: 'NestJS', text: 'hello from the Nest example' });
      expect(reply).toBe('echo: hello from the Nest example');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('stops on SIGTERM, writing signed audit checkpoints of the sign-in to a file outside the database', async () => {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output).toContain(`signed audit checkpoints → ${join(dataDir, 'audit-checkpoints.jsonl')}`);
    const lines = readFileSync(join(dataDir, 'audit-checkpoints.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ v: 1, kid: expect.any(String), sig: expect.any(String) });
  });
});
