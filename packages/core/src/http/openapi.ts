import { z } from 'zod';
import type { Operation } from './operation';

const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
    },
  },
};

function schemaOf(type: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  try {
    return z.toJSONSchema(type, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * The OpenAPI 3.1 document of byok's HTTP surface, generated from the operation
 * registry (the same source the tRPC procedures and the typed client come from).
 */
export function openApiDocument(operations: Operation[], info: { title?: string; version?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = op.http.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const method = op.http.method.toLowerCase();
    const input = schemaOf(op.input, 'input');
    const pathParams = [...op.http.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);
    const parameters: unknown[] = pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    let requestBody: unknown;
    if (method === 'get' || method === 'delete') {
      const props = (input.properties ?? {}) as Record<string, unknown>;
      const required = new Set((input.required as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries(props)) {
        if (pathParams.includes(name)) continue;
        parameters.push({ name, in: 'query', required: required.has(name), schema });
      }
    } else {
      requestBody = { required: true, content: { 'application/json': { schema: input } } };
    }
    const status = String(op.http.status ?? (op.kind === 'empty' ? 204 : op.kind === 'raw' && op.produces === 'redirect' ? 302 : 200));
    const success =
      op.kind === 'json'
        ? { description: 'OK', content: { 'application/json': { schema: schemaOf(op.output, 'output') } } }
        : op.kind === 'raw' && op.produces === 'event-stream'
          ? { description: 'Server-Sent Events', content: { 'text/event-stream': { schema: { type: 'string' } } } }
          : op.kind === 'raw' && op.produces === 'markdown'
            ? { description: 'Markdown', content: { 'text/markdown': { schema: { type: 'string' } } } }
            : op.kind === 'raw' && op.produces === 'json'
              ? { description: 'A JSON document', content: { 'application/json': { schema: { type: 'object' } } } }
              : op.kind === 'raw' && op.produces === 'redirect'
                ? { description: 'Redirect', headers: { location: { description: 'Where to go next', schema: { type: 'string' } } } }
                : { description: 'No content' };
    paths[path] ??= {};
    paths[path][method] = {
      operationId: op.name,
      summary: op.summary,
      ...(op.auth === 'required' ? { security: [{ bearer: [] }, { cookie: [] }] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses: { [status]: success, default: { description: 'Error', content: { 'application/json': { schema: errorBody } } } },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title ?? 'byok', version: info.version ?? '0.1.0' },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey', in: 'cookie', name: '__Host-byok_at' },
      },
    },
  };
}
