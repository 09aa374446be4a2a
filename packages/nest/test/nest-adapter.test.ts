import { Body, Controller, Get, Inject, Injectable, Module, Post, Req, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthService, Byok, SessionTokens, UserProfile, UsersService } from '@byok/core';
import { BYOK_USERS, ByokModule, CurrentUser, Public } from '@byok/nest';
import { APP_ORIGIN, bodyOf, readUntil, testByok, within, type StreamSeen } from './test-byok';

/**
 * @byok/nest in a real Nest 11 app on @nestjs/platform-express, over real HTTP: the
 * global guard, `@Public()`, `@CurrentUser()`, byok's routes under a global prefix beside
 * a host route that reads `rawBody`, Nest's body parser left on, and a streamed reply.
 */

@Injectable()
class Greeter {
  // Explicit tokens throughout: the test build, like byok's, emits no decorator metadata.
  constructor(@Inject(BYOK_USERS) private readonly users: UsersService) {}

  async greet(userId: string): Promise<string> {
    return `hello ${(await this.users.get(userId)).name}`;
  }
}

@Controller('host')
class HostController {
  constructor(@Inject(Greeter) private readonly greeter: Greeter) {}

  @Get('me')
  me(@CurrentUser() user: UserProfile) {
    return { id: user.id, name: user.name };
  }

  @Get('me/id')
  id(@CurrentUser('id') id: string) {
    return { id };
  }

  @Get('greeting')
  async greeting(@CurrentUser('id') id: string) {
    return { greeting: await this.greeter.greet(id) };
  }

  @Post('action')
  action(@CurrentUser('id') id: string) {
    return { done: id };
  }

  @Public()
  @Get('open')
  open(@CurrentUser() user: UserProfile | undefined) {
    return { open: true, user: user ?? null };
  }

  @Public()
  @Post('webhook')
  webhook(@Req() req: { rawBody?: Buffer }, @Body() body: unknown) {
    return { raw: req.rawBody?.toString('utf8') ?? null, body };
  }
}

describe('@byok/nest (Nest 11, platform-express)', () => {
  let byok: Byok<AuthService>;
  let seen: Map<string, StreamSeen>;
  let app: INestApplication;
  let origin: string;
  let tokens: SessionTokens;
  let userId: string;

  beforeAll(async () => {
    ({ byok, seen } = await testByok());
    const { user } = await byok.users.findOrCreate({ issuer: 'https://issuer.test', subject: 'nest', name: 'Nest User' });
    userId = user.id;
    tokens = await byok.auth.createSession(userId);

    @Module({ imports: [ByokModule.forRoot({ byok, globalGuard: true })], controllers: [HostController], providers: [Greeter] })
    class AppModule {}

    const nest = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false, rawBody: true });
    nest.setGlobalPrefix('v1');
    await nest.listen(0, '127.0.0.1');
    app = nest;
    origin = (await nest.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app.close();
  });

  const bearer = () => ({ authorization: `Bearer ${tokens.accessToken}` });
  const json = { 'content-type': 'application/json' };

  describe('ByokAuthGuard (global)', () => {
    it('refuses a host route without a session: 401 with byok’s error body', async () => {
      const res = await fetch(`${origin}/v1/host/me`);
      expect(res.status).toBe(401);
      const body = await bodyOf(res);
      expect(body).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
    });

    it('refuses a forged token and a malformed Authorization header', async () => {
      const [head, payload, signature] = tokens.accessToken.split('.') as [string, string, string];
      const bytes = Buffer.from(signature, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      let res = await fetch(`${origin}/v1/host/me`, { headers: { authorization: `Bearer ${head}.${payload}.${bytes.toString('base64url')}` } });
      expect(res.status).toBe(401);
      expect((await bodyOf(res)).error.code).toBe('unauthenticated');
      res = await fetch(`${origin}/v1/host/me`, { headers: { authorization: 'Basic abc' } });
      expect(res.status).toBe(401);
      expect((await bodyOf(res)).error.code).toBe('unauthenticated');
    });

    it('lets a session through and @CurrentUser() gives the byok user, or one of its fields', async () => {
      let res = await fetch(`${origin}/v1/host/me`, { headers: bearer() });
      expect(res.status).toBe(200);
      expect(await bodyOf(res)).toEqual({ id: userId, name: 'Nest User' });
      res = await fetch(`${origin}/v1/host/me/id`, { headers: bearer() });
      expect(await bodyOf(res)).toEqual({ id: userId });
    });

    it('injects byok’s services by token into the host’s own providers', async () => {
      const res = await fetch(`${origin}/v1/host/greeting`, { headers: bearer() });
      expect(res.status).toBe(200);
      expect(await bodyOf(res)).toEqual({ greeting: 'hello Nest User' });
    });

    it('lets @Public() routes through without a session (and @CurrentUser() is then undefined)', async () => {
      const res = await fetch(`${origin}/v1/host/open`);
      expect(res.status).toBe(200);
      expect(await bodyOf(res)).toEqual({ open: true, user: null });
    });

    it('applies byok’s CSRF check to a cookie session on an unsafe host route', async () => {
      const cookie = `byok_at=${tokens.accessToken}`;
      let res = await fetch(`${origin}/v1/host/action`, { method: 'POST', headers: { cookie, origin: 'https://evil.test' } });
      expect(res.status).toBe(403);
      expect((await bodyOf(res)).error.code).toBe('csrf_rejected');
      res = await fetch(`${origin}/v1/host/action`, { method: 'POST', headers: { cookie, origin: APP_ORIGIN } });
      expect(res.status).toBe(201);
      expect(await bodyOf(res)).toEqual({ done: userId });
    });

    it('refuses a session whose user was deleted', async () => {
      const { user } = await byok.users.findOrCreate({ issuer: 'https://issuer.test', subject: 'gone' });
      const session = await byok.auth.createSession(user.id);
      await byok.users.delete(user.id);
      const res = await fetch(`${origin}/v1/host/me`, { headers: { authorization: `Bearer ${session.accessToken}` } });
      expect(res.status).toBe(401);
      expect((await bodyOf(res)).error.code).toBe('unauthenticated');
    });
  });

  describe('byok’s routes', () => {
    it('are mounted under the global prefix, outside the host’s guard, with byok’s own auth', async () => {
      let res = await fetch(`${origin}/v1/api/me`, { headers: bearer() });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await bodyOf(res)).toMatchObject({ id: userId });
      res = await fetch(`${origin}/v1/api/me`);
      expect(res.status).toBe(401);
      expect((await bodyOf(res)).error.code).toBe('unauthenticated');
      res = await fetch(`${origin}/v1/api/openapi.json`);
      expect(res.status).toBe(200);
      expect((await bodyOf(res)).openapi).toMatch(/^3\.1/);
    });

    it('are not served outside the prefix, and paths byok does not serve go on to Nest', async () => {
      let res = await fetch(`${origin}/api/me`, { headers: bearer() });
      expect(res.status).toBe(404);
      expect((await bodyOf(res)).statusCode).toBe(404);
      res = await fetch(`${origin}/v1/api/not-byok`, { headers: bearer() });
      expect(res.status).toBe(404);
      expect(await bodyOf(res)).toMatchObject({ statusCode: 404, message: 'Cannot GET /v1/api/not-byok' });
    });

    it('take the body Nest parsed, while a host route still gets rawBody', async () => {
      const raw = '{ "theme" :  "dark" }';
      let res = await fetch(`${origin}/v1/api/me/preferences`, { method: 'PATCH', headers: { ...json, ...bearer() }, body: raw });
      expect(res.status).toBe(200);
      expect((await bodyOf(res)).theme).toBe('dark');
      const hook = '{"event":  "paid",\n "amount": 12}';
      res = await fetch(`${origin}/v1/host/webhook`, { method: 'POST', headers: json, body: hook });
      expect(res.status).toBe(201);
      expect(await bodyOf(res)).toEqual({ raw: hook, body: { event: 'paid', amount: 12 } });
    });

    it('answer malformed JSON and bodies over Nest’s parser limit with byok’s errors; host routes keep Nest’s', async () => {
      let res = await fetch(`${origin}/v1/api/me/preferences`, { method: 'PATCH', headers: { ...json, ...bearer() }, body: '{"theme": "dark",' });
      expect(res.status).toBe(400);
      expect(await bodyOf(res)).toEqual({ error: { code: 'bad_request', message: 'The request body is not valid JSON' } });
      res = await fetch(`${origin}/v1/api/me`, { method: 'PATCH', headers: { ...json, ...bearer() }, body: JSON.stringify({ name: 'x'.repeat(300_000) }) });
      expect(res.status).toBe(413);
      expect((await bodyOf(res)).error.code).toBe('payload_too_large');
      res = await fetch(`${origin}/v1/host/webhook`, { method: 'POST', headers: json, body: '{"event":' });
      expect(res.status).toBe(400);
      expect(await bodyOf(res)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    });

    it('answer a path the router cannot percent-decode with byok’s error, like every other host', async () => {
      for (const segment of ['%zz', '%', '%E0%A4%A']) {
        const res = await fetch(`${origin}/v1/api/chat/sessions/${segment}`, { headers: bearer() });
        expect(res.status, segment).toBe(400);
        expect((await bodyOf(res)).error.code, segment).toBe('bad_request');
      }
    });

    it('refuse a body another Nest parser consumed (a form post), changing nothing', async () => {
      const before = await byok.users.getPreferences(userId);
      const res = await fetch(`${origin}/v1/api/me/preferences`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...bearer() },
        body: 'theme=light',
      });
      expect(res.status).toBe(400);
      expect((await bodyOf(res)).error).toEqual({ code: 'bad_request', message: 'The request body must be application/json' });
      expect(await byok.users.getPreferences(userId)).toEqual(before);
      expect(before.theme).toBe('dark');
    });

    it('stream an event stream as it is produced, keeping the handler’s signal live while the client reads', async () => {
      const res = await fetch(`${origin}/v1/api/test/ticks`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'whole', limit: 3 }) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(await res.text()).toBe(
        'event: tick\nid: 0\ndata: {"i":0}\n\nevent: tick\nid: 1\ndata: {"i":1}\n\nevent: tick\nid: 2\ndata: {"i":2}\n\n',
      );
      expect(seen.get('whole')!.abortedAtStart).toBe(false);
    });

    it('abort the handler’s signal when the client disconnects mid-stream, and not before', async () => {
      const controller = new AbortController();
      const res = await fetch(`${origin}/v1/api/test/ticks`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ id: 'gone' }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      // Events arrive while the producer is still running: streamed, not buffered.
      expect(await readUntil(reader, 'id: 2\n')).toContain('event: tick');
      const entry = seen.get('gone')!;
      expect(entry.abortedAtStart).toBe(false);
      let abortedEarly = false;
      void entry.aborted.then(() => (abortedEarly = true));
      await new Promise((r) => setTimeout(r, 60));
      expect(abortedEarly).toBe(false);
      controller.abort();
      await within(entry.aborted, 2000, 'the handler’s signal never aborted');
      await within(entry.released, 2000, 'the stream’s producer never ran its cleanup');
      const ticks = entry.ticks;
      await new Promise((r) => setTimeout(r, 100));
      expect(entry.ticks).toBe(ticks);
    });
  });
});
