import { MemoryProviderKeysRepository, MemorySealedRecordsRepository } from './provider-keys-repository';
import type { ProviderKeysRepository, SealedRecordsRepository } from '../provider-keys-repository';
import type { AuthSessionsRepository, OAuthTokensRepository, SigningKeysRepository } from '../auth-repositories';
import { MemoryAuthSessionsRepository } from './auth-sessions-repository';
import { MemoryOAuthTokensRepository } from './oauth-tokens-repository';
import { MemorySigningKeysRepository } from './signing-keys-repository';
import type { ChatMessagesRepository, ChatSessionsRepository } from '../chat-repositories';
import { MemoryChatMessagesRepository } from './chat-messages-repository';
import { MemoryChatSessionsRepository } from './chat-sessions-repository';
import type { ChatMaintenanceRepository } from '../chat-maintenance-repository';
import { MemoryChatMaintenanceRepository } from './chat-maintenance-repository';
import type { ChatContentKeysRepository } from '../chat-content-keys-repository';
import { MemoryChatContentKeysRepository } from './chat-content-keys-repository';
import { ByokError } from '../../errors';
import type { Clock } from '../../util/clock';
import { AsyncMutex } from '../async-mutex';
import { migrations } from '../migrations';
import type {
  AuditRepository,
  MigrationReport,
  MigrationStatus,
  PreferencesRepository,
  Store,
  UsersRepository,
} from '../store';
import { MemoryAuditRepository } from './audit-repository';
import { createMemoryState, MEMORY_STATE, MemoryWriter, type MemoryStoreState } from './memory-state';
import { MemoryPreferencesRepository } from './preferences-repository';
import { MemoryUsersRepository } from './users-repository';

interface Shared {
  state: MemoryStoreState;
  mutex: AsyncMutex;
  createdAt: number;
}

interface OpenTransaction {
  writer: MemoryWriter;
  open: boolean;
}

/**
 * The Store in process memory, for unit tests and demos. Same contract as the Kysely
 * store: every operation (reads included) runs under one FIFO mutex, so transactions are
 * serialisable; a transaction that throws is rolled back from its undo log. Code inside
 * `transaction(fn)` must use the `tx` store it is given (using the outer store there
 * would wait for the transaction it is part of).
 *
 * @example
 * const store = await createStore({ database: { memory: true } });
 * await store.preferences.put({ userId, theme: 'dark', language: 'en', timezone: 'UTC', updatedAt: Date.now() });
 */
export class MemoryStore implements Store {
  readonly dialect = 'memory' as const;
  readonly users: UsersRepository;
  readonly preferences: PreferencesRepository;
  readonly audit: AuditRepository;
  readonly providerKeys: ProviderKeysRepository;
  readonly sealedRecords: SealedRecordsRepository;
  readonly authSessions: AuthSessionsRepository;
  readonly signingKeys: SigningKeysRepository;
  readonly oauthTokens: OAuthTokensRepository;
  readonly chatSessions: ChatSessionsRepository;
  readonly chatMessages: ChatMessagesRepository;
  readonly chatMaintenance: ChatMaintenanceRepository;
  readonly chatContentKeys: ChatContentKeysRepository;
  readonly [MEMORY_STATE]: MemoryStoreState;
  readonly #shared: Shared;
  readonly #tx: OpenTransaction | undefined;

  constructor(options: { clock: Clock } | { shared: Shared; tx: OpenTransaction }) {
    this.#shared = 'shared' in options ? options.shared : { state: createMemoryState(), mutex: new AsyncMutex(), createdAt: options.clock.now() };
    this.#tx = 'tx' in options ? options.tx : undefined;
    this[MEMORY_STATE] = this.#shared.state;
    this.users = new MemoryUsersRepository(this);
    this.preferences = new MemoryPreferencesRepository(this);
    this.audit = new MemoryAuditRepository(this);
    this.providerKeys = new MemoryProviderKeysRepository(this);
    this.sealedRecords = new MemorySealedRecordsRepository(this);
    this.authSessions = new MemoryAuthSessionsRepository(this);
    this.signingKeys = new MemorySigningKeysRepository(this);
    this.oauthTokens = new MemoryOAuthTokensRepository(this);
    this.chatSessions = new MemoryChatSessionsRepository(this);
    this.chatMessages = new MemoryChatMessagesRepository(this);
    this.chatMaintenance = new MemoryChatMaintenanceRepository(this);
    this.chatContentKeys = new MemoryChatContentKeysRepository(this);
  }

  get state(): MemoryStoreState {
    return this.#shared.state;
  }

  get inTransaction(): boolean {
    return this.#tx !== undefined;
  }

  /** Runs one operation atomically: inside the current transaction, or alone under the mutex. */
  async run<T>(fn: (writer: MemoryWriter) => T | Promise<T>): Promise<T> {
    if (this.#tx) {
      this.#assertOpen();
      return fn(this.#tx.writer);
    }
    return this.#shared.mutex.run(async () => {
      const writer = new MemoryWriter();
      try {
        return await fn(writer);
      } catch (error) {
        writer.rollback();
        throw error;
      }
    });
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.#tx) {
      this.#assertOpen();
      return fn(this);
    }
    return this.#shared.mutex.run(async () => {
      const tx: OpenTransaction = { writer: new MemoryWriter(), open: true };
      try {
        return await fn(new MemoryStore({ shared: this.#shared, tx }));
      } catch (error) {
        tx.writer.rollback();
        throw error;
      } finally {
        tx.open = false;
      }
    });
  }

  async migrate(): Promise<MigrationReport> {
    return { applied: [] };
  }

  async migrationStatus(): Promise<MigrationStatus[]> {
    return migrations.map((m) => ({ name: m.name, appliedAt: this.#shared.createdAt }));
  }

  async close(): Promise<void> {}

  #assertOpen(): void {
    if (!this.#tx?.open) throw new ByokError('internal', 'This transaction has already finished');
  }
}
