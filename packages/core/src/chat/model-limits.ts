import type { LlmProvider } from '../llm/llm-provider';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/logger';

interface Catalogue {
  at: number;
  ok: boolean;
  limits: Map<string, number>;
}

/** How long a provider's model list is trusted, and how long a failed listing waits for a retry. */
const FRESH_MS = 60 * 60_000;
const RETRY_MS = 5 * 60_000;
const LIST_TIMEOUT_MS = 3_000;

/**
 * The context windows the providers report (`ModelInfo.inputTokenLimit`), per provider, so
 * a turn's history is budgeted against the model it goes to. A provider's list is asked
 * for once (with the key of the user whose turn needs it) and kept for an hour; a provider
 * that cannot list, or does not say, leaves the limit unknown.
 */
export class ModelLimits {
  readonly #catalogues = new Map<string, Catalogue>();
  readonly #pending = new Map<string, Promise<void>>();
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: { clock: Clock; logger: Logger }) {
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /** The model's input limit when known, without asking the provider. */
  known(providerId: string, model: string): number | undefined {
    return this.#catalogues.get(providerId)?.limits.get(model);
  }

  /** The model's input limit, listing the provider's models with `apiKey` first when the list is not fresh. */
  async inputLimit(provider: LlmProvider, model: string, apiKey: string): Promise<number | undefined> {
    const now = this.#clock.now();
    const current = this.#catalogues.get(provider.id);
    const fresh = current !== undefined && now - current.at < (current.ok ? FRESH_MS : RETRY_MS);
    if (!fresh && provider.listModels) {
      let pending = this.#pending.get(provider.id);
      if (!pending) {
        pending = this.#refresh(provider, apiKey).finally(() => this.#pending.delete(provider.id));
        this.#pending.set(provider.id, pending);
      }
      await pending;
    }
    return this.known(provider.id, model);
  }

  async #refresh(provider: LlmProvider, apiKey: string): Promise<void> {
    const signal = AbortSignal.timeout(LIST_TIMEOUT_MS);
    try {
      const models = await provider.listModels!(apiKey, { signal });
      const limits = new Map<string, number>();
      for (const m of models) if (typeof m.inputTokenLimit === 'number' && m.inputTokenLimit > 0) limits.set(m.id, m.inputTokenLimit);
      this.#catalogues.set(provider.id, { at: this.#clock.now(), ok: true, limits });
    } catch (error) {
      this.#logger.warn({ err: error, provider: provider.id }, 'byok chat: could not list models for their context windows');
      this.#catalogues.set(provider.id, { at: this.#clock.now(), ok: false, limits: this.#catalogues.get(provider.id)?.limits ?? new Map() });
    }
  }
}
