import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicStandIn, type LlmStandIn } from '@byok/testing';

const KEY = 'sk-ant-stand-in-1';

/** The stand-in itself, spoken to with plain fetch: the wire shapes the real client relies on. */
describe('Anthropic stand-in wire shapes', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startAnthropicStandIn({ keys: [KEY], chunks: 2 });
  });
  afterAll(async () => {
    await standIn.close();
  });

  const headers = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2026-10-21', ...extra });
  const post = (body: unknown, extra?: Record<string, string>) => fetch(`${standIn.url}/v1/messages`, { method: 'POST', headers: headers(extra), body: JSON.stringify(body) });
  const turn = { model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user', content: 'ping pong' }] };

  /** Splits an SSE body into `[event, data]` pairs, checking each event names its own type. */
  function events(text: string): Array<[string, Record<string, unknown>]> {
    return text
      .split('\n\n')
      .filter(Boolean)
      .map((chunk) => {
        const [eventLine, dataLine] = chunk.split('\n');
        expect(eventLine).toMatch(/^event: /);
        expect(dataLine).toMatch(/^data: /);
        const name = (eventLine as string).slice('event: '.length);
        const data = JSON.parse((dataLine as string).slice('data: '.length)) as Record<string, unknown>;
        expect(data.type).toBe(name);
        return [name, data];
      });
  }

  it('answers a message as JSON with a request-id header', async () => {
    const response = await post(turn);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('request-id')).toMatch(/^req_011C[0-9A-Za-z]{20}$/);
    expect(await response.json()).toMatchObject({
      id: expect.stringMatching(/^msg_01/),
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-5-5',
      content: [{ type: 'text', text: 'echo: ping pong' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 2, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  it('streams named events in the API’s order: message_start, ping, content blocks, message_delta, message_stop', async () => {
    const response = await post({ ...turn, stream: true, thinking: { type: 'adaptive' }, tools: [{ name: 'lookup', input_schema: { type: 'object' } }] });
    standIn.setReply(undefined);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    const seen = events(await response.text());
    expect(seen.map(([name, data]) => (name === 'content_block_delta' ? `delta:${(data.delta as { type: string }).type}` : name))).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'delta:thinking_delta',
      'delta:thinking_delta',
      'delta:signature_delta',
      'content_block_stop',
      'content_block_start',
      'delta:text_delta',
      'delta:text_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(seen[0]?.[1]).toMatchObject({ message: { content: [], stop_reason: null, usage: { input_tokens: 2, output_tokens: 1 } } });
    expect(seen[2]?.[1]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
    expect(seen.at(-2)?.[1]).toMatchObject({ delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: expect.any(Number), output_tokens_details: { thinking_tokens: expect.any(Number) } } });
  });

  it('streams a tool call as input_json_delta pieces of one tool_use block', async () => {
    standIn.setReply(() => ({ toolCalls: [{ name: 'lookup', args: { q: 'byok', n: 2 } }] }));
    const seen = events(await (await post({ ...turn, stream: true, tools: [{ name: 'lookup', input_schema: { type: 'object' } }] })).text());
    standIn.setReply(undefined);
    const start = seen.find(([name, data]) => name === 'content_block_start' && (data.content_block as { type: string }).type === 'tool_use');
    expect(start?.[1]).toMatchObject({ content_block: { type: 'tool_use', id: expect.stringMatching(/^toolu_01/), name: 'lookup', input: {} } });
    const json = seen
      .filter(([name, data]) => name === 'content_block_delta' && (data.delta as { type: string }).type === 'input_json_delta')
      .map(([, data]) => (data.delta as { partial_json: string }).partial_json);
    expect(json.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(json.join(''))).toEqual({ q: 'byok', n: 2 });
    expect(seen.find(([name]) => name === 'message_delta')?.[1]).toMatchObject({ delta: { stop_reason: 'tool_use' } });
  });

  it('plays an error event inside the stream', async () => {
    standIn.injectFault({ kind: 'stream-error', afterChunks: 1, status: 503 }, { route: 'stream', times: 1 });
    const seen = events(await (await post({ ...turn, stream: true })).text());
    expect(seen.at(-1)).toEqual(['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: expect.stringMatching(/^req_/) }]);
    expect(seen.some(([name]) => name === 'message_stop')).toBe(false);
  });

  it('reads the key from x-api-key or Authorization: Bearer, and answers Anthropic’s errors for a wrong or missing one', async () => {
    const bearer = { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'anthropic-version': '2026-10-21' };
    expect((await fetch(`${standIn.url}/v1/messages`, { method: 'POST', headers: bearer, body: JSON.stringify(turn) })).status).toBe(200);
    const wrong = await post(turn, { 'x-api-key': 'sk-ant-wrong' });
    expect(wrong.status).toBe(401);
    const body = (await wrong.json()) as Record<string, unknown>;
    expect(body).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: wrong.headers.get('request-id') });
    const wrongBearer = await fetch(`${standIn.url}/v1/messages`, { method: 'POST', headers: { ...bearer, authorization: 'Bearer sk-ant-wrong' }, body: JSON.stringify(turn) });
    expect(((await wrongBearer.json()) as { error: unknown }).error).toEqual({ type: 'authentication_error', message: 'Invalid bearer token' });
    const missing = await fetch(`${standIn.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2026-10-21' }, body: JSON.stringify(turn) });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: unknown }).error).toEqual({ type: 'authentication_error', message: 'x-api-key header is required' });
  });

  it('requires a known anthropic-version, and refuses sampling parameters on 2026-10-21', async () => {
    const noVersion = await fetch(`${standIn.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify(turn) });
    expect(noVersion.status).toBe(400);
    expect(((await noVersion.json()) as { error: unknown }).error).toEqual({ type: 'invalid_request_error', message: 'anthropic-version: header is required' });
    const badVersion = await post(turn, { 'anthropic-version': '2024-10-22' });
    expect(((await badVersion.json()) as { error: unknown }).error).toEqual({ type: 'invalid_request_error', message: 'anthropic-version: "2024-10-22" is not a valid version' });
    const sampled = await post({ ...turn, temperature: 1 });
    expect(sampled.status).toBe(400);
    expect(((await sampled.json()) as { error: unknown }).error).toEqual({ type: 'invalid_request_error', message: 'temperature: Extra inputs are not permitted' });
    expect((await post({ ...turn, model: 'claude-sonnet-4-6', temperature: 0.2 }, { 'anthropic-version': '2023-06-01' })).status).toBe(200);
    // Generation 5 takes no temperature but the default, whatever the version.
    const deprecated = await post({ ...turn, temperature: 0.2 }, { 'anthropic-version': '2023-06-01' });
    expect(((await deprecated.json()) as { error: unknown }).error).toEqual({ type: 'invalid_request_error', message: 'temperature is deprecated for this model.' });
  });

  it('enforces the pairing of tool_use and tool_result as the API does', async () => {
    const orphan = await post({
      ...turn,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'text', text: 'a' }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_missing', content: 'x' }] },
      ],
    });
    expect(orphan.status).toBe(400);
    expect(((await orphan.json()) as { error: { message: string } }).error.message).toMatch(/^messages\.2\.content\.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_missing\./);
    const unanswered = await post({
      ...turn,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} }] },
        { role: 'user', content: 'never mind' },
      ],
    });
    expect(((await unanswered.json()) as { error: { message: string } }).error.message).toMatch(/`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1/);
  });

  it('answers the rate limit with retry-after and anthropic-ratelimit headers, and the refusal at the edge without a request id', async () => {
    standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 9, limit: 'tokens' }, { times: 1 });
    const limited = await post(turn);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('9');
    expect(limited.headers.get('anthropic-ratelimit-input-tokens-remaining')).toBe('0');
    expect(limited.headers.get('anthropic-ratelimit-input-tokens-reset')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(await limited.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' }, request_id: limited.headers.get('request-id') });
    standIn.injectFault({ kind: 'server-error', status: 503 }, { times: 1 });
    const overloaded = await post(turn);
    expect(overloaded.status).toBe(529);
    expect(await overloaded.json()).toMatchObject({ error: { type: 'overloaded_error', message: 'Overloaded' } });
    standIn.injectFault({ kind: 'region-unsupported' }, { times: 1 });
    const region = await post(turn);
    expect(region.status).toBe(403);
    expect(await region.json()).toEqual({ error: { type: 'forbidden', message: 'Request not allowed' } });
  });

  it('lists models in cursor pages', async () => {
    const page = await fetch(`${standIn.url}/v1/models?limit=2`, { headers: headers() });
    expect(page.status).toBe(200);
    const body = (await page.json()) as { data: Array<{ id: string; type: string }>; has_more: boolean; first_id: string; last_id: string };
    expect(body).toMatchObject({ has_more: true, first_id: 'claude-sonnet-5-5', last_id: 'claude-haiku-5-5' });
    expect(body.data[0]).toMatchObject({ type: 'model', id: 'claude-sonnet-5-5', display_name: 'Claude Sonnet 5.5', max_input_tokens: 1_000_000 });
    const rest = (await (await fetch(`${standIn.url}/v1/models?limit=2&after_id=claude-haiku-5-5`, { headers: headers() })).json()) as { data: Array<{ id: string }>; has_more: boolean };
    expect(rest).toMatchObject({ has_more: false, data: [{ id: 'claude-opus-5-5' }, { id: 'claude-sonnet-4-6' }] });
    const one = await fetch(`${standIn.url}/v1/models/claude-opus-5-5`, { headers: headers() });
    expect(await one.json()).toMatchObject({ id: 'claude-opus-5-5', type: 'model' });
    const none = await fetch(`${standIn.url}/v1/models/claude-nope`, { headers: headers() });
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: unknown }).error).toEqual({ type: 'not_found_error', message: 'model: claude-nope' });
  });
});
