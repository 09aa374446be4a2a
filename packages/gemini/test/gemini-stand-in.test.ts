import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing';

/** The stand-in itself, spoken to with plain fetch: the wire shapes the real client relies on. */
describe('Gemini stand-in wire shapes', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startGeminiStandIn({ keys: ['k-accepted-1'], acceptKey: (k) => k.startsWith('demo-'), chunks: 2 });
  });
  afterAll(async () => {
    await standIn.close();
  });

  const post = (path: string, headers: Record<string, string>, body: unknown) =>
    fetch(`${standIn.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const turn = { contents: [{ role: 'user', parts: [{ text: 'ping pong' }] }] };

  it('streams `data: {json}\\r\\n\\r\\n` events with usage on the last', async () => {
    const response = await post('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', { 'x-goog-api-key': 'k-accepted-1' }, turn);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const text = await response.text();
    const events = text.split('\r\n\r\n').filter(Boolean);
    expect(events).toHaveLength(2);
    const parsed = events.map((e) => {
      expect(e.startsWith('data: ')).toBe(true);
      return JSON.parse(e.slice(6));
    });
    expect(parsed.map((p) => p.candidates[0].content.parts[0].text).join('')).toBe('echo: ping pong');
    expect(parsed[1]).toMatchObject({ candidates: [{ finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 3, totalTokenCount: 5 } });
  });

  it('takes the key from ?key= too, and by rule', async () => {
    expect((await post('/v1beta/models/gemini-2.5-flash:generateContent?key=k-accepted-1', {}, turn)).status).toBe(200);
    expect((await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': 'demo-anything' }, turn)).status).toBe(200);
  });

  it('answers Google’s own errors for a wrong or missing key', async () => {
    const wrong = await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': 'nope-1234' }, turn);
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({
      error: { code: 400, status: 'INVALID_ARGUMENT', details: [expect.objectContaining({ reason: 'API_KEY_INVALID' }), expect.anything()] },
    });
    const missing = await post('/v1beta/models/gemini-2.5-flash:generateContent', {}, turn);
    expect(missing.status).toBe(403);
    expect(await missing.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
  });

  it('logs requests and plays faults a limited number of times', async () => {
    standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 3 }, { route: 'generate', times: 1 });
    const first = await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': 'k-accepted-1' }, turn);
    expect(first.status).toBe(429);
    expect(await first.json()).toMatchObject({
      error: { status: 'RESOURCE_EXHAUSTED', details: expect.arrayContaining([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' }]) },
    });
    const second = await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': 'k-accepted-1' }, turn);
    expect(second.status).toBe(200);
    expect(standIn.requests.at(-1)).toMatchObject({ route: 'generate', model: 'gemini-2.5-flash', key: 'k-accepted-1', status: 200, completed: true });
  });

  it('answers errors on the stream route as Google does: text/event-stream, a pretty-printed JSON body', async () => {
    standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 23 }, { route: 'stream', times: 1 });
    const response = await post('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', { 'x-goog-api-key': 'k-accepted-1' }, turn);
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const text = await response.text();
    expect(text.startsWith('{\n  "error": {\n    "code": 429,')).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ error: { status: 'RESOURCE_EXHAUSTED', details: expect.arrayContaining([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '23s' }]) } });
    const plain = await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': 'nope-1234' }, turn);
    expect(plain.headers.get('content-type')).toBe('application/json; charset=UTF-8');
  });

  it('tells a spent daily quota by its quotaId, though a RetryInfo comes with it', async () => {
    standIn.injectFault({ kind: 'quota-exhausted', scope: 'daily' }, { route: 'generate', times: 1 });
    const response = await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': 'k-accepted-1' }, turn);
    expect(response.status).toBe(429);
    const body = (await response.json()) as { error: { details: Array<Record<string, unknown>> } };
    expect(body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ violations: [expect.objectContaining({ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' })] }),
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '41s' },
      ]),
    );
  });

  it('plays Gemini 3: signs the first function call of a step and refuses a follow-up turn that lost it', async () => {
    standIn.setReply((t) => (t.messages.length === 1 ? { toolCalls: [{ name: 'lookup', args: { q: 'a' } }, { name: 'lookup', args: { q: 'b' } }] } : 'done'));
    const first = await post('/v1beta/models/gemini-3-pro-preview:generateContent', { 'x-goog-api-key': 'k-accepted-1' }, turn);
    const reply = (await first.json()) as { candidates: Array<{ content: { parts: Array<Record<string, unknown>> } }> };
    const parts = reply.candidates[0]!.content.parts;
    expect(typeof parts[0]!.thoughtSignature).toBe('string');
    expect(parts[1]!.thoughtSignature).toBeUndefined();
    const responses = { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { r: 1 } } }, { functionResponse: { name: 'lookup', response: { r: 2 } } }] };
    const signed = await post('/v1beta/models/gemini-3-pro-preview:generateContent', { 'x-goog-api-key': 'k-accepted-1' }, {
      contents: [...turn.contents, { role: 'model', parts }, responses],
    });
    expect(signed.status).toBe(200);
    const stripped = parts.map(({ thoughtSignature: _s, ...rest }) => rest);
    for (const route of ['generateContent', 'streamGenerateContent?alt=sse']) {
      const refused = await post(`/v1beta/models/gemini-3-pro-preview:${route}`, { 'x-goog-api-key': 'k-accepted-1' }, {
        contents: [...turn.contents, { role: 'model', parts: stripped }, responses],
      });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        error: {
          code: 400,
          message:
            'Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:lookup` , position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.',
          status: 'INVALID_ARGUMENT',
        },
      });
    }
    // Earlier turns are not checked, as on the real API.
    const later = await post('/v1beta/models/gemini-3-pro-preview:generateContent', { 'x-goog-api-key': 'k-accepted-1' }, {
      contents: [...turn.contents, { role: 'model', parts: stripped }, responses, { role: 'model', parts: [{ text: 'done' }] }, { role: 'user', parts: [{ text: 'next' }] }],
    });
    expect(later.status).toBe(200);
    // Gemini 2.5 does not check.
    const older = await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': 'k-accepted-1' }, {
      contents: [...turn.contents, { role: 'model', parts: stripped }, responses],
    });
    expect(older.status).toBe(200);
    standIn.setReply(undefined);
  });

  it('lists chat models with generateContent and other models without it', async () => {
    const response = await fetch(`${standIn.url}/v1beta/models?pageSize=50`, { headers: { 'x-goog-api-key': 'k-accepted-1' } });
    const { models } = (await response.json()) as { models: Array<{ name: string; supportedGenerationMethods: string[]; inputTokenLimit?: number }> };
    const chat = models.filter((m) => m.supportedGenerationMethods.includes('generateContent')).map((m) => m.name);
    expect(chat).toEqual(standIn.models.map((m) => `models/${m}`));
    expect(models.map((m) => m.name)).toEqual(expect.arrayContaining(['models/gemini-embedding-001', 'models/imagen-4.0-generate-001']));
    expect(models.find((m) => m.name === 'models/gemini-embedding-001')?.inputTokenLimit).toBe(2_048);
  });
});
