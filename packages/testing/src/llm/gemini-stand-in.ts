import { countWords, firstWords, StandInBase, type LlmStandIn, type LlmStandInOptions, type StandInContext, type StandInFault, type StandInTurn } from './llm-stand-in';

const DEFAULT_MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro'];

type GeminiPart = {
  text?: string;
  functionCall?: { name: string; args?: Record<string, unknown>; id?: string };
  functionResponse?: { name: string; response?: unknown; id?: string };
};
type GeminiContent = { role?: string; parts?: GeminiPart[] };
type GeminiBody = {
  contents?: GeminiContent[];
  systemInstruction?: GeminiContent;
  tools?: Array<{ functionDeclarations?: Array<{ name: string }> }>;
  generationConfig?: { temperature?: number; maxOutputTokens?: number };
};

const SAFETY_RATINGS = [
  { category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH', blocked: true },
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
];

/**
 * A local stand-in for the Gemini API (`generativelanguage.googleapis.com`) speaking its
 * public REST shapes: `GET /v1beta/models`, `POST /v1beta/models/{model}:generateContent`,
 * `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`, the key in `x-goog-api-key`
 * (or `?key=`), and Google's error bodies `{ error: { code, message, status, details } }`.
 */
class GeminiStandIn extends StandInBase {
  protected readonly basePath = '';

  protected async handle(ctx: StandInContext): Promise<void> {
    const { req, url, log } = ctx;
    const key = headerValue(req.headers['x-goog-api-key']) ?? url.searchParams.get('key') ?? undefined;
    log.key = key;
    const path = url.pathname;
    const action = /^\/(v1beta|v1)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(path);
    if (req.method === 'GET' && /^\/(v1beta|v1)\/models\/?$/.test(path)) {
      log.route = 'models';
    } else if (req.method === 'POST' && action) {
      log.route = action[3] === 'generateContent' ? 'generate' : 'stream';
      log.model = decodeURIComponent(action[2] as string);
    } else {
      return this.sendJson(ctx, 404, googleError(404, 'NOT_FOUND', `Method not found: ${req.method} ${path}`));
    }

    if (key === undefined || key === '') {
      return this.sendJson(
        ctx,
        403,
        googleError(
          403,
          'PERMISSION_DENIED',
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
          [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONSUMER_INVALID', domain: 'googleapis.com' }],
        ),
      );
    }
    if (!this.isAccepted(key)) {
      const message = this.options.echoKeyInErrors
        ? `API key not valid. Please pass a valid API key. (key: ${key})`
        : 'API key not valid. Please pass a valid API key.';
      return this.sendJson(
        ctx,
        400,
        googleError(400, 'INVALID_ARGUMENT', message, [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'API_KEY_INVALID',
            domain: 'googleapis.com',
            metadata: { service: 'generativelanguage.googleapis.com' },
          },
          { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
        ]),
      );
    }

    const fault = this.takeFault(log.route as 'models' | 'generate' | 'stream', key, log.model);
    if (fault && (await this.playRequestFault(ctx, fault, key))) return;

    if (log.route === 'models') return this.listModels(ctx);
    const model = (log.model as string).replace(/^models\//, '');
    if (!this.models.includes(model)) {
      return this.sendJson(
        ctx,
        404,
        googleError(
          404,
          'NOT_FOUND',
          `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`,
        ),
      );
    }
    const body = (ctx.body ?? {}) as GeminiBody;
    const turn = readTurn(body, key, model, log.route as 'generate' | 'stream');
    if (log.route === 'generate') return this.generate(ctx, turn, fault);
    return this.stream(ctx, turn, fault);
  }

  /** Plays faults that replace the whole answer; returns true when it did. */
  private async playRequestFault(ctx: StandInContext, fault: StandInFault, key: string): Promise<boolean> {
    switch (fault.kind) {
      case 'rate-limit': {
        const seconds = fault.retryAfterSeconds ?? 29;
        const message = fault.quota
          ? 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.'
          : 'Resource has been exhausted (e.g. check quota).';
        this.sendJson(
          ctx,
          429,
          googleError(429, 'RESOURCE_EXHAUSTED', message, [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [
                {
                  quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
                  quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
                },
              ],
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${seconds}s` },
          ]),
        );
        return true;
      }
      case 'server-error': {
        const status = fault.status ?? 500;
        const word = { 500: 'INTERNAL', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' }[status];
        const message =
          status === 503
            ? 'The model is overloaded. Please try again later.'
            : 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting';
        this.sendJson(ctx, status, googleError(status, word, message));
        return true;
      }
      case 'permission-denied':
        this.sendJson(
          ctx,
          403,
          googleError(
            403,
            'PERMISSION_DENIED',
            this.options.echoKeyInErrors
              ? `Permission denied: Consumer 'api_key:${key}' has been suspended.`
              : 'Generative Language API has not been used in this project before or it is disabled.',
            [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SERVICE_DISABLED', domain: 'googleapis.com' }],
          ),
        );
        return true;
      case 'bad-request':
        this.sendJson(ctx, 400, googleError(400, 'INVALID_ARGUMENT', fault.message ?? 'Request contains an invalid argument.'));
        return true;
      default:
        return this.playTransportFault(ctx, fault);
    }
  }

  private listModels(ctx: StandInContext): void {
    const pageSize = Math.max(1, Number(ctx.url.searchParams.get('pageSize') ?? 50) || 50);
    const start = Number(ctx.url.searchParams.get('pageToken') ?? 0) || 0;
    const page = this.models.slice(start, start + pageSize);
    const next = start + pageSize < this.models.length ? String(start + pageSize) : undefined;
    this.sendJson(ctx, 200, {
      models: page.map((id) => ({
        name: `models/${id}`,
        version: '001',
        displayName: id.replace(/-/g, ' '),
        inputTokenLimit: 1_048_576,
        outputTokenLimit: 65_536,
        supportedGenerationMethods: ['generateContent', 'countTokens'],
      })),
      ...(next ? { nextPageToken: next } : {}),
    });
  }

  private answer(turn: StandInTurn) {
    const reply = this.replyFor(turn);
    let text = reply.text;
    let finishReason = 'STOP';
    if (turn.maxOutputTokens !== undefined && countWords(text) > turn.maxOutputTokens) {
      text = firstWords(text, turn.maxOutputTokens);
      finishReason = 'MAX_TOKENS';
    }
    const inputTokens = reply.inputTokens ?? countWords([turn.system, ...turn.messages.map((m) => m.text)].join(' '));
    const outputTokens = reply.outputTokens ?? countWords(text) + reply.toolCalls.length;
    return { text, toolCalls: reply.toolCalls, finishReason, inputTokens, outputTokens };
  }

  private generate(ctx: StandInContext, turn: StandInTurn, fault: StandInFault | undefined): void {
    const a = this.answer(turn);
    const usage = usageMetadata(a.inputTokens, a.outputTokens);
    if (fault?.kind === 'safety' && fault.stage !== 'response') {
      return this.sendJson(ctx, 200, { promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY_RATINGS }, usageMetadata: usageMetadata(a.inputTokens, 0), modelVersion: turn.model });
    }
    if (fault?.kind === 'safety') {
      return this.sendJson(ctx, 200, {
        candidates: [{ index: 0, content: { role: 'model', parts: [] }, finishReason: 'SAFETY', safetyRatings: SAFETY_RATINGS }],
        usageMetadata: usageMetadata(a.inputTokens, 0),
        modelVersion: turn.model,
      });
    }
    const parts: GeminiPart[] = [];
    if (a.text) parts.push({ text: a.text });
    for (const call of a.toolCalls) parts.push({ functionCall: { name: call.name, args: call.args, ...(call.id ? { id: call.id } : {}) } });
    this.sendJson(ctx, 200, {
      candidates: [{ index: 0, content: { role: 'model', parts }, finishReason: a.finishReason }],
      usageMetadata: usage,
      modelVersion: turn.model,
      responseId: `resp-${ctx.log.id}`,
    });
  }

  private async stream(ctx: StandInContext, turn: StandInTurn, fault: StandInFault | undefined): Promise<void> {
    const a = this.answer(turn);
    const frame = (value: unknown): string => `data: ${JSON.stringify(value)}\r\n\r\n`;
    const base = { modelVersion: turn.model, responseId: `resp-${ctx.log.id}` };
    const frames: string[] = [];
    if (fault?.kind === 'safety' && fault.stage !== 'response') {
      frames.push(frame({ promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY_RATINGS }, usageMetadata: usageMetadata(a.inputTokens, 0), ...base }));
    } else {
      const pieces = a.text ? this.split(a.text) : [];
      if (fault?.kind === 'safety') {
        // Some text, then the candidate is stopped for safety.
        frames.push(frame({ candidates: [{ index: 0, content: { role: 'model', parts: [{ text: pieces[0] ?? '' }] } }], usageMetadata: { promptTokenCount: a.inputTokens }, ...base }));
        frames.push(frame({ candidates: [{ index: 0, content: { role: 'model', parts: [] }, finishReason: 'SAFETY', safetyRatings: SAFETY_RATINGS }], usageMetadata: usageMetadata(a.inputTokens, 1), ...base }));
      } else {
        const last = pieces.length - 1;
        pieces.forEach((piece, i) => {
          const parts: GeminiPart[] = [{ text: piece }];
          if (i === last) for (const call of a.toolCalls) parts.push({ functionCall: { name: call.name, args: call.args, ...(call.id ? { id: call.id } : {}) } });
          frames.push(
            frame({
              candidates: [{ index: 0, content: { role: 'model', parts }, ...(i === last ? { finishReason: a.finishReason } : {}) }],
              usageMetadata: i === last ? usageMetadata(a.inputTokens, a.outputTokens) : { promptTokenCount: a.inputTokens, totalTokenCount: a.inputTokens },
              ...base,
            }),
          );
        });
        if (pieces.length === 0) {
          const parts = a.toolCalls.map((call) => ({ functionCall: { name: call.name, args: call.args, ...(call.id ? { id: call.id } : {}) } }));
          frames.push(frame({ candidates: [{ index: 0, content: { role: 'model', parts }, finishReason: a.finishReason }], usageMetadata: usageMetadata(a.inputTokens, a.outputTokens), ...base }));
        }
      }
    }
    await this.sendStream(ctx, frames, fault, (status) =>
      frame(googleError(status, status === 503 ? 'UNAVAILABLE' : 'INTERNAL', status === 503 ? 'The model is overloaded. Please try again later.' : 'An internal error has occurred.')),
    );
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function googleError(code: number, status: string | undefined, message: string, details?: unknown[]): unknown {
  return { error: { code, message, status: status ?? 'UNKNOWN', ...(details ? { details } : {}) } };
}

function usageMetadata(input: number, output: number) {
  return { promptTokenCount: input, candidatesTokenCount: output, totalTokenCount: input + output };
}

function partText(part: GeminiPart): string {
  if (part.text !== undefined) return part.text;
  if (part.functionCall) return `[call ${part.functionCall.name}]`;
  if (part.functionResponse) return `[result ${part.functionResponse.name}: ${JSON.stringify(part.functionResponse.response)}]`;
  return '';
}

function readTurn(body: GeminiBody, key: string, model: string, route: 'generate' | 'stream'): StandInTurn {
  return {
    key,
    model,
    route,
    system: (body.systemInstruction?.parts ?? []).map(partText).join(''),
    messages: (body.contents ?? []).map((c) => ({ role: c.role ?? 'user', text: (c.parts ?? []).map(partText).join('') })),
    tools: (body.tools ?? []).flatMap((t) => (t.functionDeclarations ?? []).map((d) => d.name)),
    temperature: body.generationConfig?.temperature,
    maxOutputTokens: body.generationConfig?.maxOutputTokens,
    body,
  };
}

export type GeminiStandInOptions = LlmStandInOptions;

/**
 * Starts a Gemini API stand-in on 127.0.0.1 (ephemeral port). Point the real client at it:
 * `gemini({ baseUrl: standIn.url })` or `new GoogleGenAI({ apiKey, httpOptions: { baseUrl: standIn.url } })`.
 * The default reply is `echo: <last user text>`, cut into `chunks` stream events.
 *
 * @example
 * const standIn = await startGeminiStandIn({ keys: ['test-key'], chunks: 4 });
 * standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 7 }, { route: 'generate', times: 1 });
 * // ... run the client ...
 * await standIn.close();
 */
export async function startGeminiStandIn(options: GeminiStandInOptions = {}): Promise<LlmStandIn> {
  return new GeminiStandIn(options, DEFAULT_MODELS).start();
}
