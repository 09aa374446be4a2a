import type { ChatUsageReport } from '../chat/chat-run';
import type { Logger } from './logger';

/**
 * Typed events byok emits AFTER the change they describe has committed. Listeners run
 * asynchronously; a throwing listener is logged and never affects the caller.
 */
export interface ByokEvents {
  'user.created': { userId: string; issuer: string };
  'user.updated': { userId: string; fields: string[] };
  'user.deleted': { userId: string };
  'preferences.updated': { userId: string; fields: string[] };
  /** A chat reply was stored finished (complete, incomplete or error), with its token usage. */
  'message.completed': ChatUsageReport;
}

export type ByokEventName = keyof ByokEvents;
type Listener<K extends ByokEventName> = (payload: ByokEvents[K]) => void | Promise<void>;

export class ByokEventBus {
  private readonly listeners = new Map<ByokEventName, Set<Listener<any>>>();

  constructor(private readonly logger: Logger) {}

  /** Subscribes; returns a function that unsubscribes. */
  on<K extends ByokEventName>(name: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends ByokEventName>(name: K, payload: ByokEvents[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      queueMicrotask(() => {
        Promise.resolve()
          .then(() => listener(payload))
          .catch((err) => this.logger.error({ err, event: name }, 'byok event listener failed'));
      });
    }
  }
}
