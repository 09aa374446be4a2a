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
});
