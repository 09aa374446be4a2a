import { z } from 'zod';
import { defineOperation, type Operation } from './operation';
import { openApiDocument } from './openapi';

/** `GET /openapi.json`: the OpenAPI 3.1 document of every operation the surface serves when it is asked. */
export function openApiOperations(operations: () => Operation[]) {
  return [
    defineOperation({
      kind: 'raw',
      name: 'openapi',
      summary: 'The OpenAPI document of this surface',
      auth: 'none',
      produces: 'json',
      input: z.object({}),
      http: { method: 'GET', path: '/openapi.json' },
      handler: async () => ({ status: 200, body: openApiDocument(operations()) }),
    }),
  ] as const;
}
