import { createHmac, randomBytes } from 'node:crypto';
import {
  countWords,
  firstWords,
  StandInBase,
  type LlmStandIn,
  type LlmStandInOptions,
  type StandInContext,
  type StandInFault,
  type StandInTurn,
} from './llm-stand-in';

const DEFAULT_MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-3-pro-preview'];
/** Listed by the real API next to the chat models, with other supported methods. */
const NON_CHAT_MODELS: Record<string, { methods: string[]; input: number; output: number }> = {
  'gemini-embedding-001': { methods: ['embedContent', 'countTextTokens', 'countTokens', 'asyncBatchEmbedContent'], input: 2_048, output: 1 },
  'imagen-4.0-generate-001': { methods: ['predict'], input: 480, output: 8_192 },
};
const CONTEXT_WINDOWS: Record<string, number> = {
  'gemini-2.5-flash': 1_048_576,
  'gemini-2.5-pro': 1_048_576,
  'gemini-3-pro-preview': 1_048_576,
  'gemini-embedding-001': 2_048,
  'imagen-4.0-generate-001': 480,
};
/** Like Gemini 3: every step is signed, and a follow-up turn must carry the signatures back. */
const SIGNED_MODELS = ['gemini-3-pro-preview'];
const PROJECT = '123456789012';

type GeminiPart = {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
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

const QUOTA_HELP = {
  '@type': 'type.googleapis.com/google.rpc.Help',
  links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
};
const QUOTA_LEAD =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. ';

/**
 * A local stand-in for the Gemini API (`generativelanguage.googleapis.com`) speaking its
 * public REST shapes: `GET /v1beta/models`, `POST /v1beta/models/{model}:generateContent`,
 * `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`, the key in `x-goog-api-key`
 * (or `?key=`), and Google's error bodies `{ error: { code, message, status, details } }`
 * (pretty-printed, as Google sends them; with `Content-Type: text/event-stream` on the
 * stream route). `gemini-3-*` models behave like Gemini 3: each reply step carries a
 * `thoughtSignature`, and a follow-up turn whose function calls lost theirs gets the real 400.
 */
class GeminiStandIn extends StandInBase {
  protected readonly basePath = '';
  /** Signs with a per-instance secret, so a signature from another run is not accepted. */
  private readonly signingKey = randomBytes(16);

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
      return this.sendError(ctx, 404, googleError(404, 'NOT_FOUND', `Method not found: ${req.method} ${path}`));
    }

    if (key === undefined || key === '') {
      return this.sendError(
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
      return this.sendError(
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
      return this.sendError(
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
    if (this.signedModels.includes(model)) {
      const unsigned = unsignedCall(body.contents ?? []);
      if (unsigned) {
        return this.sendError(
          ctx,
          400,
          googleError(
            400,
            'INVALID_ARGUMENT',
            `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${unsigned.name}\` , position ${unsigned.position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
          ),
        );
      }
    }
    const turn = readTurn(body, key, model, log.route as 'generate' | 'stream');
    if (log.route === 'generate') return this.generate(ctx, turn, fault);
    return this.stream(ctx, turn, fault);
  }

  /**
   * An error answer. On the stream route Google sends it with the stream's content type
   * (`text/event-stream`) but a plain JSON body.
   */
  private sendError(ctx: StandInContext, status: number, body: unknown): void {
    const streamRoute = ctx.log.route === 'stream';
    if (ctx.res.destroyed) return;
    ctx.log.status = status;
    ctx.res.writeHead(status, { 'content-type': streamRoute ? 'text/event-stream' : 'application/json; charset=UTF-8', vary: 'Origin, X-Origin, Referer' });
    ctx.res.end(`${JSON.stringify(body, null, 2)}\n`);
    ctx.log.completed = true;
  }

  /** Plays faults that replace the whole answer; returns true when it did. */
  private async playRequestFault(ctx: StandInContext, fault: StandInFault, key: string): Promise<boolean> {
    const model = (ctx.log.model ?? this.models[0] ?? 'gemini-2.5-flash').replace(/^models\//, '');
    switch (fault.kind) {
      case 'rate-limit': {
        if (fault.quota) {
          this.sendError(ctx, 429, quotaExhausted('billing', model));
          return true;
        }
        const seconds = fault.retryAfterSeconds ?? 29;
        const tokens = fault.limit === 'tokens';
        const metric = tokens ? 'generate_content_free_tier_input_token_count' : 'generate_content_free_tier_requests';
        const limit = tokens ? '250000' : '5';
        this.sendError(
          ctx,
          429,
          googleError(
            429,
            'RESOURCE_EXHAUSTED',
            `${QUOTA_LEAD}\n* Quota exceeded for metric: generativelanguage.googleapis.com/${metric}, limit: ${limit}, model: ${model}\nPlease retry in ${seconds}.218437519s.`,
            [
              QUOTA_HELP,
              {
                '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
                violations: [
                  {
                    quotaMetric: `generativelanguage.googleapis.com/${metric}`,
                    quotaId: tokens ? 'GenerateContentInputTokensPerModelPerMinute-FreeTier' : 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
                    quotaDimensions: { location: 'global', model },
                    quotaValue: limit,
                  },
                ],
              },
              { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${seconds}s` },
            ],
          ),
        );
        return true;
      }
      case 'quota-exhausted':
        this.sendError(ctx, 429, quotaExhausted(fault.scope ?? 'daily', model));
        return true;
      case 'server-error': {
        const status = fault.status ?? 500;
        const word = { 500: 'INTERNAL', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' }[status];
        const message =
          status === 503
            ? 'The model is overloaded. Please try again later.'
            : 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting';
        this.sendError(ctx, status, googleError(status, word, message));
        return true;
      }
      case 'permission-denied':
        this.sendError(ctx, 403, permissionDenied(fault.reason ?? 'api-disabled', this.options.echoKeyInErrors ? key : undefined));
        return true;
      case 'region-unsupported':
        this.sendError(ctx, 400, googleError(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.'));
        return true;
      case 'bad-request':
        this.sendError(ctx, 400, googleError(400, 'INVALID_ARGUMENT', fault.message ?? 'Request contains an invalid argument.'));
        return true;
      default:
        return this.playTransportFault(ctx, fault);
    }
  }

  private listModels(ctx: StandInContext): void {
    const all = [...this.models, ...this.nonChatModels];
    const pageSize = Math.max(1, Number(ctx.url.searchParams.get('pageSize') ?? 50) || 50);
    const start = Number(ctx.url.searchParams.get('pageToken') ?? 0) || 0;
    const page = all.slice(start, start + pageSize);
    const next = start + pageSize < all.length ? String(start + pageSize) : undefined;
    this.sendJson(ctx, 200, {
      models: page.map((id) => {
        const other = NON_CHAT_MODELS[id];
        return {
          name: `models/${id}`,
          version: '001',
          displayName: id.replace(/-/g, ' '),
          ...(this.contextWindows[id] !== undefined ? { inputTokenLimit: this.contextWindows[id] } : {}),
          outputTokenLimit: other?.output ?? 65_536,
          supportedGenerationMethods: other?.methods ?? ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
          ...(other ? {} : { temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2, thinking: true }),
        };
      }),
      ...(next ? { nextPageToken: next } : {}),
    });
  }

  /** A signature only this instance can have made, for one step of a reply. */
  private sign(turn: StandInTurn, step: string): string {
    return createHmac('sha256', this.signingKey).update(`${turn.model}\u0000${turn.messages.length}\u0000${step}`).digest('base64');
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
    const signed = this.signedModels.includes(turn.model);
    const calls: GeminiPart[] = reply.toolCalls.map((call, i) => ({
      functionCall: { name: call.name, args: call.args, ...(call.id ? { id: call.id } : {}) },
      // Gemini 3 signs the first function call of a step (parallel calls share it).
      ...(signed && i === 0 ? { thoughtSignature: this.sign(turn, `call:${call.name}`) } : {}),
    }));
    // Without function calls, the signature rides on the last text part.
    const textSignature = signed && calls.length === 0 ? this.sign(turn, 'text') : undefined;
    return { text, calls, textSignature, finishReason, inputTokens, outputTokens };
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
    if (a.text) parts.push({ text: a.text, ...(a.textSignature ? { thoughtSignature: a.textSignature } : {}) });
    parts.push(...a.calls);
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
          const parts: GeminiPart[] = [{ text: piece, ...(i === last && a.textSignature ? { thoughtSignature: a.textSignature } : {}) }];
          if (i === last) parts.push(...a.calls);
          frames.push(
            frame({
              candidates: [{ index: 0, content: { role: 'model', parts }, ...(i === last ? { finishReason: a.finishReason } : {}) }],
              usageMetadata: i === last ? usageMetadata(a.inputTokens, a.outputTokens) : { promptTokenCount: a.inputTokens, totalTokenCount: a.inputTokens },
              ...base,
            }),
          );
        });
        if (pieces.length === 0) {
          const parts = a.calls.length > 0 ? a.calls : [{ text: '', ...(a.textSignature ? { thoughtSignature: a.textSignature } : {}) }];
          frames.push(frame({ candidates: [{ index: 0, content: { role: 'model', parts }, finishReason: a.finishReason }], usageMetadata: usageMetadata(a.inputTokens, a.outputTokens), ...base }));
        }
      }
    }
    await this.sendStream(ctx, frames, fault, (status, framing) => {
      const word = status === 503 ? 'UNAVAILABLE' : status === 429 ? 'RESOURCE_EXHAUSTED' : 'INTERNAL';
      const message =
        status === 503 ? 'The model is overloaded. Please try again later.' : status === 429 ? 'Resource has been exhausted (e.g. check quota).' : 'An internal error has occurred.';
      const body = googleError(status, word, message);
      // Mid-stream, Google has been seen sending the error as a bare JSON body after the
      // events; the SDK reads both that and a `data:` event.
      return framing === 'bare' ? JSON.stringify(body) : frame(body);
    });
  }
}

/** The first function call of the current turn that lost its signature, if any. */
function unsignedCall(contents: GeminiContent[]): { name: string; position: number } | undefined {
  // The current turn starts at the last user message that is not only function responses.
  let start = 0;
  contents.forEach((content, i) => {
    const parts = content.parts ?? [];
    if ((content.role ?? 'user') === 'user' && parts.some((p) => !p.functionResponse)) start = i;
  });
  for (let i = start; i < contents.length; i += 1) {
    const content = contents[i] as GeminiContent;
    if (content.role !== 'model') continue;
    const first = (content.parts ?? []).find((p) => p.functionCall);
    if (first?.functionCall && !first.thoughtSignature) return { name: first.functionCall.name, position: i + 1 };
  }
  return undefined;
}

function quotaExhausted(scope: 'billing' | 'daily' | 'zero-limit', model: string): unknown {
  if (scope === 'billing') {
    return googleError(
      429,
      'RESOURCE_EXHAUSTED',
      'Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects to manage your project and billing.',
    );
  }
  const daily = scope === 'daily';
  const limit = daily ? '20' : '0';
  return googleError(
    429,
    'RESOURCE_EXHAUSTED',
    `${QUOTA_LEAD}\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: ${limit}, model: ${model}\nPlease retry in 41.203527813s.`,
    [
      QUOTA_HELP,
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
            quotaId: daily ? 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' : 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
            quotaDimensions: { location: 'global', model },
            quotaValue: limit,
          },
        ],
      },
      // Google adds a retry delay even when the quota will not come back in that time.
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '41s' },
    ],
  );
}

function permissionDenied(reason: 'api-disabled' | 'billing' | 'permission', echoedKey: string | undefined): unknown {
  if (echoedKey !== undefined) {
    return googleError(403, 'PERMISSION_DENIED', `Permission denied: Consumer 'api_key:${echoedKey}' has been suspended.`, [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONSUMER_SUSPENDED', domain: 'googleapis.com' },
    ]);
  }
  if (reason === 'permission') {
    return googleError(403, 'PERMISSION_DENIED', 'The caller does not have permission');
  }
  if (reason === 'billing') {
    return googleError(
      403,
      'PERMISSION_DENIED',
      `This API method requires billing to be enabled. Please enable billing on project #${PROJECT} by visiting https://console.developers.google.com/billing/enable?project=${PROJECT} then retry. If you enabled billing for this project recently, wait a few minutes for the action to propagate to our systems and retry.`,
      [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'BILLING_DISABLED',
          domain: 'googleapis.com',
          metadata: { consumer: `projects/${PROJECT}`, service: 'generativelanguage.googleapis.com' },
        },
      ],
    );
  }
  const url = `https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=${PROJECT}`;
  return googleError(
    403,
    'PERMISSION_DENIED',
    `Generative Language API has not been used in project ${PROJECT} before or it is disabled. Enable it by visiting ${url} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.`,
    [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'SERVICE_DISABLED',
        domain: 'googleapis.com',
        metadata: { consumer: `projects/${PROJECT}`, service: 'generativelanguage.googleapis.com', activationUrl: url, serviceTitle: 'Generative Language API', containerInfo: PROJECT },
      },
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: `Generative Language API has not been used in project ${PROJECT} before or it is disabled.` },
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Google developers console API activation', url }] },
    ],
  );
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
  if (part.thought) return '';
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
 * The default reply is `echo: <last user text>`, cut into `chunks` stream events. It also
 * lists an embedding and an image model, and `gemini-3-pro-preview` signs its replies and
 * checks the signatures come back (`signedModels`).
 *
 * @example
 * const standIn = await startGeminiStandIn({ keys: ['test-key'], chunks: 4 });
 * standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 7 }, { route: 'generate', times: 1 });
 * // ... run the client ...
 * await standIn.close();
 */
export async function startGeminiStandIn(options: GeminiStandInOptions = {}): Promise<LlmStandIn> {
  return new GeminiStandIn(options, DEFAULT_MODELS, {
    nonChatModels: Object.keys(NON_CHAT_MODELS),
    contextWindows: CONTEXT_WINDOWS,
    signedModels: SIGNED_MODELS,
  }).start();
}
