// OpenTelemetry: with the API and an SDK registered, byok records spans for HTTP
// operations, provider calls (GenAI conventions), KMS calls and database transactions,
// and token metrics — never message text or secrets.
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, GEMINI_KEY, OPENAI_KEY, startChatHarness, type ChatHarness } from './chat-harness';
import type { ChatUsageReport } from '../src/chat/chat-run';

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const SECRET_TEXT = 'telemetry-canary-question';

describe('OpenTelemetry', () => {
  const exporter = new InMemorySpanExporter();
  const reader = new TestReader();
  const usage: ChatUsageReport[] = [];
  let h: ChatHarness;
  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    h = await startChatHarness('sqlite', { chat: { onUsage: (u) => usage.push(u) } });
  });
  afterAll(async () => {
    await h?.close();
    trace.disable();
    metrics.disable();
    context.disable();
  });

  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  const named = (prefix: string) => spans().filter((s) => s.name.startsWith(prefix));

  it('records a server span per HTTP operation, named by its route, with the status and error code', async () => {
    exporter.reset();
    const response = await h.byok.http.handle({ method: 'GET', url: '/me', headers: {}, remoteAddress: '127.0.0.1' });
    expect(response.status).toBe(401);
    const [span] = named('GET /me');
    expect(span).toBeDefined();
    expect(span!.kind).toBe(1); // SERVER
    expect(span!.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/me', 'http.response.status_code': 401, 'error.type': 'unauthenticated' });
  });

  it('records KMS calls (by driver and operation) and database transactions (by engine)', async () => {
    exporter.reset();
    await h.byok.keyVault.setKey(h.bob, 'openai', OPENAI_KEY);
    const kms = named('kms ');
    expect(kms.length).toBeGreaterThan(0);
    expect(kms[0]!.attributes).toMatchObject({ 'byok.kms.driver': 'local' });
    const tx = named('db transaction');
    expect(tx.length).toBeGreaterThan(0);
    expect(tx[0]!.attributes).toMatchObject({ 'db.system.name': 'sqlite' });
  });

  it('records a client span per provider call on the GenAI conventions, token metrics, and tells the onUsage hook', async () => {
    exporter.reset();
    const { byok, alice } = h;
    const completed: ChatUsageReport[] = [];
    const off = byok.events.on('message.completed', (u) => void completed.push(u));
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    await collect(byok.chat.send(alice, s.id, { text: SECRET_TEXT }));
    const [call] = named('chat gemini-2.5-flash');
    expect(call).toBeDefined();
    expect(call!.kind).toBe(2); // CLIENT
    expect(call!.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'gemini', 'gen_ai.request.model': 'gemini-2.5-flash' });
    expect(call!.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(call!.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(call!.attributes['gen_ai.response.finish_reasons']).toEqual(['STOP']);

    const { resourceMetrics } = await reader.collect();
    const histogram = resourceMetrics.scopeMetrics.flatMap((m) => m.metrics).find((m) => m.descriptor.name === 'gen_ai.client.token.usage');
    expect(histogram).toBeDefined();
    const types = histogram!.dataPoints.map((p) => p.attributes['gen_ai.token.type']).sort();
    expect(types).toEqual(['input', 'output']);
    expect(histogram!.dataPoints.every((p) => p.attributes['gen_ai.provider.name'] === 'gemini' && !('user' in p.attributes))).toBe(true);

    const reply = (await byok.chat.listMessages(alice, s.id)).items[1]!;
    expect(usage.at(-1)).toMatchObject({ userId: alice, sessionId: s.id, messageId: reply.id, provider: 'gemini', status: 'complete' });
    expect(usage.at(-1)!.inputTokens).toBe(reply.usage!.inputTokens);
    // The same report is the typed `message.completed` event, after the reply is stored.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(completed).toEqual([usage.at(-1)]);
    off();

    // Nothing recorded carries the user's words or key.
    const recorded = JSON.stringify(spans().map((x) => ({ name: x.name, attributes: x.attributes, events: x.events, status: x.status })));
    expect(recorded).not.toContain(SECRET_TEXT);
    expect(recorded).not.toContain(GEMINI_KEY);
  });
});
