/**
 * OpenTelemetry spans and metrics, when the host has `@opentelemetry/api` (an optional
 * peer). Without it every helper here calls straight through: no span objects, no
 * allocation beyond the call. The API is global, so byok uses whatever tracer and meter
 * providers the host registered; it records no message text, no key and no token, only
 * names, ids the host already has, models, counts and error codes.
 */
import { isByokError } from '../errors';

type Attributes = Record<string, string | number | boolean | string[] | undefined>;

interface OtelSpan {
  setAttributes(attributes: Attributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): {
      startSpan(name: string, options?: { kind?: number; attributes?: Attributes }, context?: unknown): OtelSpan;
      startActiveSpan<T>(name: string, options: { kind?: number; attributes?: Attributes }, fn: (span: OtelSpan) => T): T;
    };
  };
  metrics: {
    getMeter(name: string, version?: string): {
      createHistogram(name: string, options?: { unit?: string; description?: string }): { record(value: number, attributes?: Attributes): void };
    };
  };
  SpanKind: { INTERNAL: number; SERVER: number; CLIENT: number };
  SpanStatusCode: { ERROR: number };
}

/** The kinds byok's spans use (OpenTelemetry's SpanKind values). */
export type SpanKindName = 'internal' | 'server' | 'client';

/** A span byok is recording; every method is a no-op when OpenTelemetry is absent. */
export interface TelemetrySpan {
  setAttributes(attributes: Attributes): void;
  /** Marks the span failed with byok's error code (never the message, which may quote input). */
  fail(error: unknown): void;
  end(): void;
}

const NOOP_SPAN: TelemetrySpan = { setAttributes: () => undefined, fail: () => undefined, end: () => undefined };

let api: OtelApi | null = null;
let loading: Promise<void> | undefined;
let tokenHistogram: { record(value: number, attributes?: Attributes): void } | undefined;

/** Loads `@opentelemetry/api` once if the host has it; resolves either way. */
export function initTelemetry(): Promise<void> {
  loading ??= import('@opentelemetry/api').then(
    (mod: unknown) => {
      // The namespace has every export; a CommonJS interop `default` may have only some.
      const candidates = [mod, (mod as { default?: unknown }).default] as Array<Partial<OtelApi> | undefined>;
      api = (candidates.find((m) => typeof m?.trace?.getTracer === 'function' && m.SpanKind !== undefined && m.SpanStatusCode !== undefined) as OtelApi | undefined) ?? null;
    },
    () => {
      api = null;
    },
  );
  return loading;
}

/** Whether spans are being recorded (the API was found). */
export function telemetryActive(): boolean {
  return api !== null;
}

function tracer() {
  return api!.trace.getTracer('byok');
}

function kindOf(kind: SpanKindName): number {
  return kind === 'server' ? api!.SpanKind.SERVER : kind === 'client' ? api!.SpanKind.CLIENT : api!.SpanKind.INTERNAL;
}

function errorCode(error: unknown): string {
  return isByokError(error) ? error.code : 'internal';
}

function wrap(span: OtelSpan): TelemetrySpan {
  return {
    setAttributes: (attributes) => void span.setAttributes(attributes),
    fail: (error) => {
      const code = errorCode(error);
      span.setAttributes({ 'error.type': code });
      span.setStatus({ code: api!.SpanStatusCode.ERROR, message: code });
    },
    end: () => span.end(),
  };
}

/** Starts a span the caller ends (for work that outlives one call, e.g. a stream). */
export function startSpan(name: string, attributes: Attributes, kind: SpanKindName = 'internal'): TelemetrySpan {
  if (api === null) return NOOP_SPAN;
  return wrap(tracer().startSpan(name, { kind: kindOf(kind), attributes }));
}

/** Runs `fn` inside an active span (children nest under it), failing it on a throw. */
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: TelemetrySpan) => Promise<T>, kind: SpanKindName = 'internal'): Promise<T> {
  if (api === null) return fn(NOOP_SPAN);
  return tracer().startActiveSpan(name, { kind: kindOf(kind), attributes }, async (raw) => {
    const span = wrap(raw);
    try {
      return await fn(span);
    } catch (error) {
      span.fail(error);
      throw error;
    } finally {
      raw.end();
    }
  });
}

/**
 * Records a reply's tokens on the GenAI semantic conventions' `gen_ai.client.token.usage`
 * histogram (by provider, model and token type; the user is left to the host's hook, as a
 * metric attribute it would be unbounded).
 */
export function recordTokenUsage(attributes: { provider: string; model: string }, counts: { inputTokens: number; outputTokens: number }): void {
  if (api === null) return;
  tokenHistogram ??= api.metrics.getMeter('byok').createHistogram('gen_ai.client.token.usage', { unit: '{token}', description: 'Tokens used per reply' });
  const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': attributes.provider, 'gen_ai.request.model': attributes.model };
  tokenHistogram.record(counts.inputTokens, { ...base, 'gen_ai.token.type': 'input' });
  tokenHistogram.record(counts.outputTokens, { ...base, 'gen_ai.token.type': 'output' });
}
