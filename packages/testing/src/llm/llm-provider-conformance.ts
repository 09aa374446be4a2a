import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { isByokError, type ByokError, type ByokErrorCode } from '@byok/core';
import {
  StreamPartsBuilder,
  type GenerateRequest,
  type LlmMessage,
  type LlmProvider,
  type MessagePart,
  type StreamEvent,
} from '@byok/core/llm';
import type { LlmStandIn, LlmStandInOptions, StandInFault, StandInTurn } from './llm-stand-in';

export interface LlmProviderConformanceOptions {
  /** Shown in the test names. */
  name: string;
  /** Starts the stand-in for this provider's API. */
  startStandIn: (options: LlmStandInOptions) => Promise<LlmStandIn>;
  /** Builds the provider under test pointed at `baseUrl` (the stand-in's `url`, or a dead port). */
  makeProvider: (baseUrl: string, options: { timeoutMs?: number }) => LlmProvider;
  /** A model the stand-in serves; default: the stand-in's first model. */
  model?: string;
}

const KEY = 'conformance-key-0001';
const CANARY = `canary-${Math.random().toString(36).slice(2)}-do-not-leak`;

function userSays(text: string): GenerateRequest['messages'] {
  return [{ role: 'user', parts: [{ type: 'text', text }] }];
}

async function collect(iterable: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of iterable) out.push(event);
  return out;
}

/** Parts without their provider metadata, to compare the neutral content. */
function neutral(parts: readonly MessagePart[]): MessagePart[] {
  return parts.map((part) => {
    const { providerMetadata: _metadata, ...rest } = part;
    return rest as MessagePart;
  });
}

async function failureOf(promise: Promise<unknown>): Promise<ByokError> {
  try {
    await promise;
  } catch (error) {
    if (!isByokError(error)) throw new Error(`expected a ByokError, got ${inspect(error)}`);
    return error;
  }
  throw new Error('expected the call to fail');
}

async function deadPortUrl(url: string): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const dead = new URL(url);
  dead.port = String(port);
  return dead.toString().replace(/\/$/, '');
}

/** Everything an error exposes, as one string, for leak checks. */
function everything(error: unknown): string {
  const e = error as ByokError;
  return [
    inspect(error, { depth: 20, showHidden: true }),
    JSON.stringify(e.toJSON?.()),
    String(e.message),
    String(e.stack),
    inspect(e.cause, { depth: 20, showHidden: true }),
    JSON.stringify(e.details ?? null),
  ].join('\n');
}

/**
 * The executable contract of `LlmProvider`, run through the real client against a local
 * stand-in: key checks (valid / invalid only for a rejected key / unverified with a reason
 * for an account, region, quota, 5xx, network or timeout problem), generation, streaming
 * with usage, multi-turn tool use whose provider metadata survives storage (also on models
 * that refuse a turn that lost its signatures), chat-only model lists with context windows,
 * aborts that close the connection, streams that end early or carry an error in any
 * framing, every error code (the same on a stream as on a plain call), and no leak of the
 * key anywhere.
 *
 * @example
 * import { gemini } from '@byok/gemini';
 * import { llmProviderConformance, startGeminiStandIn } from '@byok/testing';
 * llmProviderConformance({
 *   name: 'gemini',
 *   startStandIn: startGeminiStandIn,
 *   makeProvider: (baseUrl, { timeoutMs }) => gemini({ baseUrl, timeoutMs }),
 * });
 */
export function llmProviderConformance(options: LlmProviderConformanceOptions): void {
  describe(`LlmProvider conformance: ${options.name}`, () => {
    let standIn: LlmStandIn;
    let provider: LlmProvider;
    let model: string;
    const fast = (): LlmProvider => options.makeProvider(standIn.url, { timeoutMs: 400 });

    beforeAll(async () => {
      standIn = await options.startStandIn({ keys: [KEY, CANARY], chunks: 3 });
      model = options.model ?? (standIn.models[0] as string);
    });
    afterAll(async () => {
      await standIn?.close();
    });
    beforeEach(() => {
      standIn.reset();
      provider = options.makeProvider(standIn.url, {});
    });

    describe('validateKey', () => {
      it('says valid for an accepted key and sends it', async () => {
        expect(await provider.validateKey(KEY)).toEqual({ status: 'valid' });
        expect(standIn.requests.at(-1)).toMatchObject({ route: 'models', key: KEY, status: 200 });
      });

      it('says invalid for a key the API rejects', async () => {
        const result = await provider.validateKey('some-wrong-key-123');
        expect(result.status).toBe('invalid');
        expect(result.status === 'invalid' && result.reason.length).toBeGreaterThan(0);
      });

      it('says invalid for an empty key without calling the API', async () => {
        expect((await provider.validateKey('')).status).toBe('invalid');
        expect(standIn.requests).toHaveLength(0);
      });

      const notAboutTheKey: Array<[string, StandInFault]> = [
        ['a disabled API', { kind: 'permission-denied', reason: 'api-disabled' }],
        ['billing turned off', { kind: 'permission-denied', reason: 'billing' }],
        ['a missing permission', { kind: 'permission-denied', reason: 'permission' }],
        ['an unsupported region', { kind: 'region-unsupported' }],
        ['a spent quota', { kind: 'quota-exhausted', scope: 'billing' }],
        ['a bad request', { kind: 'bad-request' }],
      ];
      it.each(notAboutTheKey)('says unverified, never invalid, for %s, with the reason', async (_name, fault) => {
        standIn.injectFault(fault, { route: 'models' });
        const result = await provider.validateKey(KEY);
        expect(result.status).toBe('unverified');
        expect(result.status === 'unverified' && result.reason.length).toBeGreaterThan(10);
        expect(result).not.toHaveProperty('retryAfterMs');
      });

      it('says unverified, never invalid, on 429 with the retry delay', async () => {
        standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 7 }, { route: 'models' });
        const result = await provider.validateKey(KEY);
        expect(result).toMatchObject({ status: 'unverified', retryAfterMs: 7_000 });
      });

      it.each([500, 503] as const)('says unverified on %i', async (status) => {
        standIn.injectFault({ kind: 'server-error', status }, { route: 'models' });
        const result = await provider.validateKey(KEY);
        expect(result.status).toBe('unverified');
        expect(result.status === 'unverified' && result.reason).toMatch(/unavailable/i);
      });

      it('says unverified when the connection is refused', async () => {
        const dead = options.makeProvider(await deadPortUrl(standIn.url), {});
        const result = await dead.validateKey(KEY);
        expect(result.status).toBe('unverified');
        expect(result.status === 'unverified' && result.reason).toMatch(/reach/i);
      });

      it('says unverified when the connection is reset', async () => {
        standIn.injectFault({ kind: 'reset' }, { route: 'models' });
        expect((await provider.validateKey(KEY)).status).toBe('unverified');
      });

      it('says unverified on timeout and closes the connection', async () => {
        standIn.injectFault({ kind: 'hang' }, { route: 'models' });
        const started = Date.now();
        const result = await provider.validateKey(KEY, { timeoutMs: 300 });
        expect(Date.now() - started).toBeLessThan(3_000);
        expect(result.status).toBe('unverified');
        expect(result.status === 'unverified' && result.reason).toMatch(/in time/);
        await standIn.waitFor((r) => r.route === 'models' && r.closedByClient);
      });

      it('throws aborted when the caller aborts', async () => {
        standIn.injectFault({ kind: 'hang' }, { route: 'models' });
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 100);
        const error = await failureOf(provider.validateKey(KEY, { signal: controller.signal }));
        expect(error.code).toBe('aborted');
      });
    });

    describe('generate', () => {
      it('returns the reply, the model and token usage', async () => {
        const result = await provider.generate(KEY, { model, messages: userSays('hello there world') });
        expect(result.text).toBe('echo: hello there world');
        expect(neutral(result.parts)).toEqual([{ type: 'text', text: 'echo: hello there world' }]);
        expect(result.finishReason).toBe('stop');
        expect(result.model).toContain(model);
        expect(result.usage.outputTokens).toBe(4);
        expect(result.usage.inputTokens).toBeGreaterThan(0);
        expect(result.usage.totalTokens).toBe(result.usage.inputTokens + result.usage.outputTokens);
      });

      it('uses the default model when the request names none', async () => {
        const result = await provider.generate(KEY, { messages: userSays('hi') });
        expect(result.text).toBe('echo: hi');
        expect(standIn.requests.at(-1)?.model).toContain(provider.defaultModel ?? '');
      });

      it('sends the system prompt, system messages, the history, temperature and roles', async () => {
        let seen: StandInTurn | undefined;
        standIn.setReply((turn) => {
          seen = turn;
          return 'ok';
        });
        await provider.generate(KEY, {
          model,
          systemPrompt: 'You are terse.',
          temperature: 0.25,
          messages: [
            { role: 'system', parts: [{ type: 'text', text: 'Use French.' }] },
            { role: 'user', parts: [{ type: 'text', text: 'first' }] },
            { role: 'assistant', parts: [{ type: 'text', text: 'answer' }] },
            { role: 'user', parts: [{ type: 'text', text: 'second' }] },
          ],
        });
        expect(seen?.system).toContain('You are terse.');
        expect(seen?.system).toContain('Use French.');
        expect(seen?.messages.map((m) => m.text)).toEqual(['first', 'answer', 'second']);
        expect(seen?.messages[1]?.role).not.toBe('user');
        expect(seen?.temperature).toBe(0.25);
        expect(seen?.key).toBe(KEY);
      });

      it('reports length when maxOutputTokens cuts the reply', async () => {
        standIn.setReply(() => 'one two three four five six');
        const result = await provider.generate(KEY, { model, maxOutputTokens: 2, messages: userSays('count') });
        expect(result.text).toBe('one two');
        expect(result.finishReason).toBe('length');
      });

      it('every model the API serves takes maxOutputTokens and temperature (reasoning models included)', async () => {
        // Reasoning models refuse some fields (OpenAI's o-series: `max_tokens`, a temperature):
        // the provider sends what each model takes.
        for (const m of standIn.models) {
          const request = { model: m, maxOutputTokens: 64, temperature: 0.3, messages: userSays('hi') };
          const result = await provider.generate(KEY, request);
          expect([m, result.text]).toEqual([m, 'echo: hi']);
          const events = await collect(provider.stream(KEY, request));
          expect([m, events.at(-1)?.type]).toEqual([m, 'finish']);
        }
      });

      it('returns tool calls and sends tool results back', async () => {
        let seen: StandInTurn | undefined;
        standIn.setReply((turn) => {
          seen = turn;
          return turn.messages.length === 1 ? { toolCalls: [{ name: 'get_weather', args: { city: 'Paris' } }] } : 'sunny';
        });
        const tools = [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];
        const first = await provider.generate(KEY, { model, tools, messages: userSays('weather?') });
        expect(seen?.tools).toEqual(['get_weather']);
        expect(first.finishReason).toBe('tool-calls');
        expect(first.toolCalls).toHaveLength(1);
        const call = first.toolCalls[0]!;
        expect(call).toMatchObject({ toolName: 'get_weather', args: { city: 'Paris' } });
        expect(call.toolCallId.length).toBeGreaterThan(0);
        expect(first.parts).toContainEqual({ type: 'tool-call', ...call });

        expect(first.parts).toContainEqual({ type: 'tool-call', ...call });
        const second = await provider.generate(KEY, {
          model,
          tools,
          messages: [
            ...userSays('weather?'),
            { role: 'assistant', parts: first.parts },
            { role: 'tool', parts: [{ type: 'tool-result', toolCallId: call.toolCallId, toolName: 'get_weather', result: { sky: 'sunny' } }] },
          ],
        });
        expect(second.text).toBe('sunny');
        expect(seen?.messages).toHaveLength(3);
        expect(seen?.messages[2]?.text).toMatch(/result/);
      });
    });

    describe('multi-turn tool use, with the parts stored as JSON in between', () => {
      const tools = [{ name: 'lookup', description: 'Looks a word up', parameters: { type: 'object', properties: { q: { type: 'string' } } } }];
      /** Two tool rounds, then an answer; every reply goes through JSON, as the chat store keeps it. */
      const script = (turn: StandInTurn) => {
        const results = turn.messages.filter((m) => /result/.test(m.text)).length;
        if (results === 0) return { text: 'Let me check.', toolCalls: [{ name: 'lookup', args: { q: 'first' } }] };
        if (results === 1) return { toolCalls: [{ name: 'lookup', args: { q: 'second' } }, { name: 'lookup', args: { q: 'third' } }] };
        return 'done: both looked up';
      };
      const stored = (parts: MessagePart[]): MessagePart[] => JSON.parse(JSON.stringify(parts)) as MessagePart[];
      const results = (parts: MessagePart[]): LlmMessage => ({
        role: 'tool',
        parts: parts.flatMap((p) => (p.type === 'tool-call' ? [{ type: 'tool-result' as const, toolCallId: p.toolCallId, toolName: p.toolName, result: { found: p.args.q } }] : [])),
      });
      const models = (): string[] => [...new Set([model, ...standIn.signedModels])];

      it('generate: every model, including those that refuse a turn whose signatures were lost', async () => {
        standIn.setReply(script);
        for (const m of models()) {
          const history: LlmMessage[] = userSays('look two things up');
          for (let round = 0; round < 3; round += 1) {
            const reply = await provider.generate(KEY, { model: m, tools, messages: history });
            history.push({ role: 'assistant', parts: stored(reply.parts) });
            if (reply.finishReason !== 'tool-calls') break;
            history.push(results(reply.parts));
          }
          expect(partsOf(history.at(-1))).toBe('done: both looked up');
          expect(history.filter((h) => h.role === 'tool')).toHaveLength(2);
        }
      });

      it('stream: the parts folded from the events carry what the next turn needs', async () => {
        standIn.setReply(script);
        for (const m of models()) {
          const history: LlmMessage[] = userSays('look two things up');
          for (let round = 0; round < 3; round += 1) {
            const builder = new StreamPartsBuilder();
            let finish: StreamEvent | undefined;
            for await (const event of provider.stream(KEY, { model: m, tools, messages: history })) {
              builder.add(event);
              if (event.type === 'finish') finish = event;
            }
            history.push({ role: 'assistant', parts: stored(builder.parts()) });
            if (finish?.type !== 'finish' || finish.finishReason !== 'tool-calls') break;
            history.push(results(builder.parts()));
          }
          expect(partsOf(history.at(-1))).toBe('done: both looked up');
          expect(history.filter((h) => h.role === 'tool')).toHaveLength(2);
        }
      });

      it('a model that signs its reasoning refuses a history whose signatures were dropped', async () => {
        const signed = standIn.signedModels[0];
        if (signed === undefined) return;
        standIn.setReply(script);
        const first = await provider.generate(KEY, { model: signed, tools, messages: userSays('look two things up') });
        const error = await failureOf(
          provider.generate(KEY, {
            model: signed,
            tools,
            messages: [...userSays('look two things up'), { role: 'assistant', parts: neutral(first.parts) }, results(first.parts)],
          }),
        );
        expect(error.code).toBe('provider_error');
        expect(error.details).toMatchObject({ providerStatus: 400 });
      });
    });

    describe('listModels', () => {
      it('lists the chat models only, with the context window the API reports', async () => {
        if (!provider.listModels) return;
        const listed = await provider.listModels(KEY);
        expect(listed.map((m) => m.id).sort()).toEqual([...standIn.models].sort());
        for (const other of standIn.nonChatModels) expect(listed.map((m) => m.id)).not.toContain(other);
        for (const m of listed) expect(m.inputTokenLimit).toBe(standIn.contextWindows[m.id]);
      });
    });

    describe('stream', () => {
      it('streams several text deltas, then one finish event with usage', async () => {
        standIn.configure({ chunks: 4, chunkDelayMs: 5 });
        const events = await collect(provider.stream(KEY, { model, messages: userSays('stream me please') }));
        const deltas = events.filter((e) => e.type === 'text-delta');
        expect(deltas.length).toBeGreaterThanOrEqual(3);
        expect(deltas.map((e) => (e.type === 'text-delta' ? e.text : '')).join('')).toBe('echo: stream me please');
        const finishes = events.filter((e) => e.type === 'finish');
        expect(finishes).toHaveLength(1);
        expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop', usage: { outputTokens: 4 } });
        const finish = events.at(-1) as Extract<StreamEvent, { type: 'finish' }>;
        expect(finish.usage.totalTokens).toBe(finish.usage.inputTokens + finish.usage.outputTokens);
        expect(standIn.requests.at(-1)).toMatchObject({ route: 'stream', completed: true, key: KEY });
      });

      it('does not blame the provider for a slow consumer (the idle timer pauses while an event is held)', async () => {
        standIn.configure({ chunks: 3 });
        const events: StreamEvent[] = [];
        for await (const event of fast().stream(KEY, { model, messages: userSays('take your time') })) {
          events.push(event);
          if (event.type === 'text-delta') await new Promise((resolve) => setTimeout(resolve, 500));
        }
        expect(events.at(-1)?.type).toBe('finish');
      });

      it('streams tool calls', async () => {
        standIn.setReply(() => ({ toolCalls: [{ name: 'lookup', args: { q: 'byok', n: 2 } }] }));
        const events = await collect(provider.stream(KEY, { model, tools: [{ name: 'lookup' }], messages: userSays('find') }));
        expect(events.filter((e) => e.type === 'tool-call')).toEqual([
          expect.objectContaining({ type: 'tool-call', toolName: 'lookup', args: { q: 'byok', n: 2 } }),
        ]);
        expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'tool-calls' });
      });

      it('stops promptly on abort, throws aborted, and the server sees the connection closed', async () => {
        standIn.configure({ chunks: 20, chunkDelayMs: 100 });
        standIn.setReply(() => 'a long reply that keeps coming and coming and coming for quite a while');
        const controller = new AbortController();
        const seen: StreamEvent[] = [];
        let abortedAt = 0;
        const error = await failureOf(
          (async () => {
            for await (const event of provider.stream(KEY, { model, messages: userSays('go') }, { signal: controller.signal })) {
              seen.push(event);
              if (seen.length === 1) {
                setTimeout(() => {
                  abortedAt = Date.now();
                  controller.abort();
                }, 30);
              }
            }
          })(),
        );
        expect(error.code).toBe('aborted');
        expect(Date.now() - abortedAt).toBeLessThan(1_000);
        expect(seen.some((e) => e.type === 'finish')).toBe(false);
        const request = await standIn.waitFor((r) => r.route === 'stream' && r.closedByClient, 2_000);
        expect(request.completed).toBe(false);
        expect(request.chunksSent).toBeLessThan(20);
      });

      it('throws aborted at once for a signal aborted before the call', async () => {
        const error = await failureOf(collect(provider.stream(KEY, { model, messages: userSays('go') }, { signal: AbortSignal.abort() })));
        expect(error.code).toBe('aborted');
      });

      it('closes the connection when the consumer leaves early', async () => {
        standIn.configure({ chunks: 20, chunkDelayMs: 50 });
        standIn.setReply(() => 'another long reply that goes on and on and on for a good while longer');
        for await (const event of provider.stream(KEY, { model, messages: userSays('go') })) {
          expect(event.type).toBe('text-delta');
          break;
        }
        const request = await standIn.waitFor((r) => r.route === 'stream' && r.closedByClient, 2_000);
        expect(request.chunksSent).toBeLessThan(20);
      });

      it('fails with provider_network_error when the stream is cut', async () => {
        standIn.configure({ chunks: 4, chunkDelayMs: 20 });
        standIn.injectFault({ kind: 'reset', afterChunks: 2 }, { route: 'stream' });
        const seen: StreamEvent[] = [];
        const error = await failureOf(
          (async () => {
            for await (const event of provider.stream(KEY, { model, messages: userSays('cut me off now') })) seen.push(event);
          })(),
        );
        expect(error.code).toBe('provider_network_error');
        expect(seen.filter((e) => e.type === 'text-delta').length).toBeGreaterThan(0);
      });

      it('fails with provider_network_error (timeout) when the stream stalls, and closes it', async () => {
        standIn.configure({ chunks: 4 });
        standIn.injectFault({ kind: 'hang', afterChunks: 1 }, { route: 'stream' });
        const error = await failureOf(collect(fast().stream(KEY, { model, messages: userSays('stall here please') })));
        expect(error.code).toBe('provider_network_error');
        expect(error.details).toMatchObject({ timeout: true });
        await standIn.waitFor((r) => r.route === 'stream' && r.closedByClient, 2_000);
      });

      it('maps an error event inside the stream', async () => {
        standIn.configure({ chunks: 4 });
        standIn.injectFault({ kind: 'stream-error', afterChunks: 1, status: 503 }, { route: 'stream' });
        const error = await failureOf(collect(provider.stream(KEY, { model, messages: userSays('then fail mid way') })));
        expect(error.code).toBe('provider_unavailable');
      });

      it('an error inside the stream keeps its HTTP class: a rate limit is provider_rate_limited', async () => {
        standIn.configure({ chunks: 4 });
        standIn.injectFault({ kind: 'stream-error', afterChunks: 1, status: 429 }, { route: 'stream' });
        const error = await failureOf(collect(provider.stream(KEY, { model, messages: userSays('then hit a limit') })));
        expect(error.code).toBe('provider_rate_limited');
      });

      it('never finishes a stream whose error came without SSE framing', async () => {
        standIn.configure({ chunks: 4, chunkDelayMs: 20 });
        standIn.injectFault({ kind: 'stream-error', afterChunks: 2, status: 503, framing: 'bare' }, { route: 'stream' });
        const seen: StreamEvent[] = [];
        const error = await failureOf(
          (async () => {
            for await (const event of provider.stream(KEY, { model, messages: userSays('then fail without framing') })) seen.push(event);
          })(),
        );
        expect(['provider_unavailable', 'provider_network_error']).toContain(error.code);
        expect(seen.some((e) => e.type === 'finish')).toBe(false);
      });

      it('fails with provider_network_error, never finish: stop, when the stream ends before the reply is finished', async () => {
        standIn.configure({ chunks: 4, chunkDelayMs: 5 });
        standIn.injectFault({ kind: 'truncate', afterChunks: 2 }, { route: 'stream' });
        const seen: StreamEvent[] = [];
        const error = await failureOf(
          (async () => {
            for await (const event of provider.stream(KEY, { model, messages: userSays('end me early please') })) seen.push(event);
          })(),
        );
        expect(error.code).toBe('provider_network_error');
        expect(seen.some((e) => e.type === 'finish')).toBe(false);
        expect(seen.filter((e) => e.type === 'text-delta').length).toBeGreaterThan(0);
        expect(standIn.requests.at(-1)).toMatchObject({ route: 'stream', completed: true, resetByServer: false });
      });

      it('throws provider_safety_block after the text that came before a blocked reply', async () => {
        standIn.injectFault({ kind: 'safety', stage: 'response' }, { route: 'stream' });
        const seen: StreamEvent[] = [];
        const error = await failureOf(
          (async () => {
            for await (const event of provider.stream(KEY, { model, messages: userSays('something risky here') })) seen.push(event);
          })(),
        );
        expect(error.code).toBe('provider_safety_block');
        expect(seen.some((e) => e.type === 'finish')).toBe(false);
      });
    });

    describe('error mapping (generate and stream)', () => {
      const cases: Array<{ title: string; setup: () => void; key?: string; code: ByokErrorCode; check?: (e: ByokError) => void; timeout?: boolean }> = [
        { title: 'a rejected key → key_invalid', setup: () => undefined, key: 'rejected-key-9876', code: 'key_invalid' },
        { title: '403 → provider_permission_denied', setup: () => standIn.injectFault({ kind: 'permission-denied' }), code: 'provider_permission_denied' },
        {
          title: '429 → provider_rate_limited with retryAfterMs',
          setup: () => standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 7 }),
          code: 'provider_rate_limited',
          check: (e) => expect(e.details).toMatchObject({ retryAfterMs: 7_000, providerStatus: 429 }),
        },
        ...(['billing', 'daily', 'zero-limit'] as const).map((scope) => ({
          title: `a spent quota (${scope}) → provider_quota_exhausted without a retry hint`,
          setup: () => standIn.injectFault({ kind: 'quota-exhausted', scope }),
          code: 'provider_quota_exhausted' as const,
          check: (e: ByokError) => {
            expect(e.status).toBe(429);
            expect(e.details).not.toHaveProperty('retryAfterMs');
          },
        })),
        { title: '500 → provider_unavailable', setup: () => standIn.injectFault({ kind: 'server-error', status: 500 }), code: 'provider_unavailable' },
        { title: '503 → provider_unavailable', setup: () => standIn.injectFault({ kind: 'server-error', status: 503 }), code: 'provider_unavailable' },
        { title: 'a non-key 400 → provider_error', setup: () => standIn.injectFault({ kind: 'bad-request' }), code: 'provider_error' },
        { title: 'a blocked prompt → provider_safety_block', setup: () => standIn.injectFault({ kind: 'safety', stage: 'prompt' }), code: 'provider_safety_block' },
        { title: 'a reset connection → provider_network_error', setup: () => standIn.injectFault({ kind: 'reset' }), code: 'provider_network_error' },
        {
          title: 'no answer → provider_network_error (timeout)',
          setup: () => standIn.injectFault({ kind: 'hang' }),
          code: 'provider_network_error',
          timeout: true,
          check: (e) => expect(e.details).toMatchObject({ timeout: true }),
        },
      ];
      it('429 on the tokens limit → provider_rate_limited with its own retryAfterMs', async () => {
        standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 12, limit: 'tokens' });
        const error = await failureOf(provider.generate(KEY, { model, messages: userSays('hi') }));
        expect(error.code).toBe('provider_rate_limited');
        expect(error.details).toMatchObject({ retryAfterMs: 12_000 });
      });

      it('an unsupported region is never key_invalid', async () => {
        standIn.injectFault({ kind: 'region-unsupported' });
        expect((await failureOf(provider.generate(KEY, { model, messages: userSays('hi') }))).code).not.toBe('key_invalid');
        expect((await failureOf(collect(provider.stream(KEY, { model, messages: userSays('hi') })))).code).not.toBe('key_invalid');
      });

      const sameOnBothRoutes: StandInFault[] = [
        { kind: 'rate-limit', retryAfterSeconds: 7 },
        { kind: 'quota-exhausted', scope: 'daily' },
        { kind: 'permission-denied', reason: 'api-disabled' },
        { kind: 'server-error', status: 503 },
        { kind: 'bad-request', message: 'Request contains an invalid argument.' },
      ];
      it.each(sameOnBothRoutes)('a stream refused with %o reads exactly like the same refusal of generate', async (fault) => {
        standIn.injectFault(fault, { route: 'generate', times: 1 });
        const plain = await failureOf(provider.generate(KEY, { model, messages: userSays('hi') }));
        standIn.injectFault(fault, { route: 'stream', times: 1 });
        const streamed = await failureOf(collect(provider.stream(KEY, { model, messages: userSays('hi') })));
        expect(streamed.code).toBe(plain.code);
        expect(streamed.status).toBe(plain.status);
        expect(streamed.details).toEqual(plain.details);
        expect(streamed.message).toBe(plain.message);
        // A clean message: the API's words, not a JSON body wrapped in another.
        expect(streamed.message).not.toMatch(/[{}]|\\n|\\"/);
      });

      for (const c of cases) {
        it(`generate: ${c.title}`, async () => {
          c.setup();
          const p = c.timeout ? fast() : provider;
          const error = await failureOf(p.generate(c.key ?? KEY, { model, messages: userSays('hi') }));
          expect(error.code).toBe(c.code);
          c.check?.(error);
        });
        it(`stream: ${c.title}`, async () => {
          c.setup();
          const p = c.timeout ? fast() : provider;
          const error = await failureOf(collect(p.stream(c.key ?? KEY, { model, messages: userSays('hi') })));
          expect(error.code).toBe(c.code);
          c.check?.(error);
        });
      }

      it('an unknown model → provider_error', async () => {
        const error = await failureOf(provider.generate(KEY, { model: 'no-such-model', messages: userSays('hi') }));
        expect(error.code).toBe('provider_error');
        expect(error.details).toMatchObject({ providerStatus: 404 });
      });

      it('a refused connection → provider_network_error', async () => {
        const dead = options.makeProvider(await deadPortUrl(standIn.url), {});
        expect((await failureOf(dead.generate(KEY, { model, messages: userSays('hi') }))).code).toBe('provider_network_error');
        expect((await failureOf(collect(dead.stream(KEY, { model, messages: userSays('hi') })))).code).toBe('provider_network_error');
      });

      it('an empty key → key_invalid without a request', async () => {
        expect((await failureOf(provider.generate('', { model, messages: userSays('hi') }))).code).toBe('key_invalid');
        expect((await failureOf(collect(provider.stream('  ', { model, messages: userSays('hi') })))).code).toBe('key_invalid');
        expect(standIn.requests).toHaveLength(0);
      });
    });

    describe('the key never leaks', () => {
      it('not in any error, cause, reason or console line, even when the API echoes it', async () => {
        const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m));
        try {
          standIn.configure({ echoKeyInErrors: true });
          const texts: string[] = [];
          const wrong = `${CANARY}-wrong`;
          // The API echoes a rejected key.
          texts.push(JSON.stringify(await provider.validateKey(wrong)));
          texts.push(everything(await failureOf(provider.generate(wrong, { model, messages: userSays('hi') }))));
          texts.push(everything(await failureOf(collect(provider.stream(wrong, { model, messages: userSays('hi') })))));
          // Every other failure with an accepted canary key.
          const faults = [
            { kind: 'permission-denied' },
            { kind: 'rate-limit' },
            { kind: 'quota-exhausted' },
            { kind: 'region-unsupported' },
            { kind: 'server-error', status: 503 },
            { kind: 'reset' },
            { kind: 'safety', stage: 'prompt' },
          ] as const;
          for (const fault of faults) {
            standIn.injectFault(fault, { times: 1 });
            texts.push(everything(await failureOf(provider.generate(CANARY, { model, messages: userSays('hi') }))));
            standIn.injectFault(fault, { times: 1 });
            texts.push(everything(await failureOf(collect(provider.stream(CANARY, { model, messages: userSays('hi') })))));
            standIn.injectFault(fault, { route: 'models', times: 1 });
            texts.push(JSON.stringify(await provider.validateKey(CANARY)));
          }
          standIn.injectFault({ kind: 'hang' }, { times: 1 });
          texts.push(everything(await failureOf(fast().generate(CANARY, { model, messages: userSays('hi') }))));
          const controller = new AbortController();
          setTimeout(() => controller.abort(), 50);
          standIn.injectFault({ kind: 'hang' }, { times: 1 });
          texts.push(everything(await failureOf(collect(provider.stream(CANARY, { model, messages: userSays('hi') }, { signal: controller.signal })))));
          const dead = options.makeProvider(await deadPortUrl(standIn.url), {});
          texts.push(everything(await failureOf(dead.generate(CANARY, { model, messages: userSays('hi') }))));
          texts.push(JSON.stringify(await dead.validateKey(CANARY)));

          // The stand-in did echo it, so the scrubbing was exercised.
          expect(standIn.requests.some((r) => r.key === CANARY)).toBe(true);
          for (const text of texts) {
            expect(text).not.toContain(CANARY);
            expect(text).not.toContain(encodeURIComponent(CANARY));
          }
          for (const spy of spies) for (const args of spy.mock.calls) expect(inspect(args, { depth: 10 })).not.toContain(CANARY);
        } finally {
          for (const spy of spies) spy.mockRestore();
        }
      });
    });
  });
}

function partsOf(message: LlmMessage | undefined): string {
  return (message?.parts ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');
}
