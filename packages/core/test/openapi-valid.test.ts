import { randomBytes } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, localKms, oidc, type Byok } from '@byok/core';

/**
 * `/openapi.json` as a client generator reads it: valid OpenAPI 3.1 by the specification's
 * own JSON Schema (checked by @seriousme/openapi-schema-validator, Ajv underneath), plus the
 * rules that schema cannot express (path templates and parameters agree, unique ids).
 */
describe('/openapi.json', () => {
  let byok: Byok;
  let doc: Record<string, any>;

  beforeAll(async () => {
    byok = await createByok({
      database: { memory: true },
      kms: localKms({ keys: `1:${randomBytes(32).toString('base64')}` }),
      auth: {
        issuers: [oidc({ id: 'dev', issuer: 'http://127.0.0.1:9/', clientId: 'byok', clientSecret: 'byok-secret', development: true })],
        baseUrl: 'http://127.0.0.1:4999',
        allowedOrigins: ['http://app.example'],
        cookieSecret: randomBytes(32).toString('hex'),
      },
    });
    const res = await byok.http.handle({ method: 'GET', url: '/openapi.json', headers: {}, body: undefined, remoteAddress: '127.0.0.1' });
    expect(res.status).toBe(200);
    doc = res.body as Record<string, any>;
  });
  afterAll(async () => {
    await byok?.close();
  });

  it('is valid OpenAPI 3.1 by the specification’s schema', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is refused by the same validator when broken (the check can fail)', async () => {
    const broken = structuredClone(doc);
    broken.paths['/me'].get.responses = { twohundred: { description: 'OK' } };
    expect((await new Validator().validate(broken)).valid).toBe(false);
    const noInfo = structuredClone(doc);
    delete noInfo.info;
    expect((await new Validator().validate(noInfo)).valid).toBe(false);
  });

  it('declares every path template parameter as a required path parameter, and nothing else in the path', () => {
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(item)) {
        const inPath = (op.parameters ?? []).filter((p: { in: string }) => p.in === 'path');
        expect({ path, method, names: inPath.map((p: { name: string }) => p.name).sort() }).toEqual({ path, method, names: templated });
        for (const p of inPath) expect(p.required).toBe(true);
        const keys = (op.parameters ?? []).map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
        expect(new Set(keys).size).toBe(keys.length);
        // a GET or DELETE takes no body
        if (method === 'get' || method === 'delete') expect(op.requestBody).toBeUndefined();
      }
    }
  });

  it('names every operation once, lists byok’s own document, and defines the security schemes it uses', () => {
    const ids: string[] = [];
    const schemes = new Set(Object.keys(doc.components.securitySchemes));
    for (const item of Object.values(doc.paths as Record<string, Record<string, any>>)) {
      for (const op of Object.values(item)) {
        ids.push(op.operationId);
        for (const requirement of op.security ?? []) for (const name of Object.keys(requirement)) expect(schemes.has(name)).toBe(true);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['openapi', 'me.get', 'auth.refresh', 'chat.messages.send', 'keys.set']));
    expect(ids).toHaveLength(byok.http.operations().length);
    expect(doc.paths['/openapi.json'].get.responses['200'].content['application/json']).toBeDefined();
  });
});

describe('/openapi.json schemas', () => {
  it('embeds only valid JSON Schema 2020-12 (the dialect of OpenAPI 3.1), checked by Ajv', async () => {
    const byok = await createByok({ database: { memory: true }, kms: localKms({ keys: `1:${randomBytes(32).toString('base64')}` }) });
    try {
      const doc = (await byok.http.handle({ method: 'GET', url: '/openapi.json', headers: {}, body: undefined, remoteAddress: '127.0.0.1' })).body as Record<string, any>;
      const ajv = new Ajv2020({ strict: false });
      const schemas: Array<{ where: string; schema: unknown }> = [];
      for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
        for (const [method, op] of Object.entries(item)) {
          for (const p of op.parameters ?? []) schemas.push({ where: `${method} ${path} parameter ${p.name}`, schema: p.schema });
          for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) schemas.push({ where: `${method} ${path} body ${type}`, schema: (media as any).schema });
          for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
            for (const [type, media] of Object.entries(response.content ?? {})) schemas.push({ where: `${method} ${path} ${status} ${type}`, schema: (media as any).schema });
          }
        }
      }
      expect(schemas.length).toBeGreaterThan(50);
      const invalid = schemas.filter(({ schema }) => !ajv.validateSchema(schema as object)).map(({ where }) => `${where}: ${ajv.errorsText()}`);
      expect(invalid).toEqual([]);
      // and the check can fail
      expect(ajv.validateSchema({ type: 'objekt' })).toBe(false);
    } finally {
      await byok.close();
    }
  });
});
