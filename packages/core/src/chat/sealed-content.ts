import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ByokError } from '../errors';
import type { ChatMessageRow, ChatMessagesRepository, ChatRunPatch, ChatSessionPatch, ChatSessionRow, ChatSessionsRepository } from '../store/chat-repositories';
import type { ChatMaintenanceRepository } from '../store/chat-maintenance-repository';
import type { Store } from '../store/store';
import { uuidv7 } from '../util/ids';
import type { Sealer } from '../vault/sealer';

/**
 * A sealed field is this marker, then base64url of nonce ‖ tag ‖ ciphertext. Under sealing
 * every write carries it; a row stored before sealing was switched on is read as it is.
 */
const MARK = '\u0001bs1:';
const NONCE = 12;
const TAG = 16;
const KEY_CACHE = 10_000;

type Field = 'text' | 'parts' | 'title';

/** A keyed input hash is this marker, then base64url of the HMAC (46 characters, inside input_hash's 64). */
const KEYED_HASH_MARK = 'k1.';

/**
 * Where a sealed-content store keeps its input-hash keyer: the chat service asks the store
 * it was given for it, so a turn's idempotency hash is keyed exactly when content is sealed.
 */
const INPUT_HASH_KEYER: unique symbol = Symbol('byok.chat.inputHashKeyer');

/** Keys a turn's SHA-256 input hash for storage (see {@link ChatContentSealer.keyedInputHash}). */
export type InputHashKeyer = (userId: string, sessionId: string, hash: string) => Promise<string>;

/** The keyer of a sealed-content store; undefined for any other store (hashes stay SHA-256). */
export function inputHashKeyer(store: Store): InputHashKeyer | undefined {
  return (store as unknown as { [INPUT_HASH_KEYER]?: InputHashKeyer })[INPUT_HASH_KEYER];
}

/** The host option `memory`. */
export interface MemoryOptions {
  /**
   * Store chat message text and parts, and session titles, sealed under a per-user data
   * key that the vault seals (purpose `chat_content`, rewrapped by `byok kms rewrap`);
   * each turn's idempotency hash is then keyed with that key too (HMAC, so a stored hash
   * cannot confirm a guessed message). Deleting the user (`deleteUserData`) deletes that key, which leaves every copy of
   * their content unreadable. Default false.
   */
  sealContent?: boolean;
}

/**
 * Seals and opens chat content with each user's data key: AES-256-GCM, the key's AAD
 * binding each value to its user, row and field (a value copied to another row does not
 * open). The data keys are made on first use, stored sealed by the vault in
 * `chat_content_keys`, and kept opened in a bounded cache.
 */
export class ChatContentSealer {
  readonly #sealer: Sealer;
  readonly #keys = new LRUCache<string, Buffer>({ max: KEY_CACHE });

  constructor(sealer: Sealer) {
    this.#sealer = sealer;
  }

  /**
   * The user's data key, read (or made) through `store`. A key made inside a transaction is
   * not cached: if that transaction rolls back, so do the key and everything sealed under it.
   */
  async key(store: Store, userId: string, inTransaction: boolean): Promise<Buffer> {
    const cached = this.#keys.get(userId);
    if (cached) return cached;
    let row = await store.chatContentKeys.get(userId);
    let made = false;
    if (!row) {
      const id = uuidv7();
      const fresh = randomBytes(32);
      const sealed = (await this.#sealer.seal(fresh, context(userId, id))).toString('base64url');
      row = await store.chatContentKeys.insertIfAbsent({ id, userId, sealed, createdAt: Date.now() });
      made = row.id === id;
    }
    const key = await this.#sealer.open(Buffer.from(row.sealed, 'base64url'), context(userId, row.id));
    if (key.length !== 32) throw new ByokError('seal_invalid', 'A chat content key is malformed');
    if (!(made && inTransaction)) this.#keys.set(userId, key);
    return key;
  }

  /** Forgets the user's opened key (after their key row is deleted). */
  evict(userId: string): void {
    this.#keys.delete(userId);
  }

  seal(key: Buffer, userId: string, rowId: string, field: Field, plaintext: string): string {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(aad(userId, rowId, field));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return MARK + Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64url');
  }

  /**
   * A turn's input hash as a sealed store keeps it: HMAC-SHA-256 under a subkey of the
   * user's data key (HKDF, its own label), over user ‖ session ‖ hash. The plain SHA-256 of
   * a short message could be confirmed by hashing guesses; this one cannot without the key,
   * and it dies with the key when the user is deleted.
   */
  keyedInputHash(key: Buffer, userId: string, sessionId: string, hash: string): string {
    const subkey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'byok-chat-input-hash', 32));
    return KEYED_HASH_MARK + createHmac('sha256', subkey).update(`${userId}\u0000${sessionId}\u0000${hash}`).digest('base64url');
  }

  /** Opens a sealed field; plain text (stored before sealing was on) passes through. */
  open(key: Buffer, userId: string, rowId: string, field: Field, stored: string): string {
    if (!stored.startsWith(MARK)) return stored;
    const raw = Buffer.from(stored.slice(MARK.length), 'base64url');
    if (raw.length < NONCE + TAG) throw unreadable();
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE));
      decipher.setAAD(aad(userId, rowId, field));
      decipher.setAuthTag(raw.subarray(NONCE, NONCE + TAG));
      return Buffer.concat([decipher.update(raw.subarray(NONCE + TAG)), decipher.final()]).toString('utf8');
    } catch {
      throw unreadable();
    }
  }
}

/** Whether a stored input hash is keyed (tests and tooling). */
export function isKeyedInputHash(stored: string | null): boolean {
  return stored !== null && stored.startsWith(KEYED_HASH_MARK);
}

/** Whether a stored field is sealed (tests and tooling). */
export function isSealedContent(stored: string | null): boolean {
  return stored !== null && stored.startsWith(MARK);
}

function context(userId: string, recordId: string) {
  return { purpose: 'chat_content', userId, recordId } as const;
}

function aad(userId: string, rowId: string, field: Field): Buffer {
  return Buffer.from(`byok-chat\u0000${userId}\u0000${rowId}\u0000${field}`, 'utf8');
}

function unreadable(): ByokError {
  return new ByokError('seal_invalid', 'This chat content cannot be opened: its key is gone or the value was altered');
}

/**
 * The store the chat service (and export) use under `memory.sealContent`: the same store,
 * except that chat message text and parts and session titles are sealed on the way in and
 * opened on the way out, in and out of transactions.
 */
export function sealedContentStore(store: Store, content: ChatContentSealer, inTransaction = false): Store {
  const keyOf = (userId: string) => content.key(store, userId, inTransaction);
  const keyInputHash: InputHashKeyer = async (userId, sessionId, hash) => content.keyedInputHash(await keyOf(userId), userId, sessionId, hash);
  const openMessage = async (row: ChatMessageRow | undefined): Promise<ChatMessageRow | undefined> => {
    if (!row || (!isSealedContent(row.text) && !isSealedContent(row.parts))) return row;
    const key = await keyOf(row.userId);
    return { ...row, text: content.open(key, row.userId, row.id, 'text', row.text), parts: content.open(key, row.userId, row.id, 'parts', row.parts) };
  };
  const openMessages = async (rows: ChatMessageRow[]): Promise<ChatMessageRow[]> => Promise.all(rows.map(async (r) => (await openMessage(r))!));
  const openSession = async (row: ChatSessionRow | undefined): Promise<ChatSessionRow | undefined> => {
    if (!row || !isSealedContent(row.title)) return row;
    return { ...row, title: content.open(await keyOf(row.userId), row.userId, row.id, 'title', row.title!) };
  };
  const sealTitle = (key: Buffer, userId: string, sessionId: string, title: string | null | undefined) =>
    title === null || title === undefined ? title : content.seal(key, userId, sessionId, 'title', title);

  const base = store.chatMessages;
  const chatMessages: ChatMessagesRepository = {
    async append(userId, sessionId, build, options) {
      const key = await keyOf(userId);
      const row = await base.append(
        userId,
        sessionId,
        (seq) => {
          const plain = build(seq);
          return { ...plain, text: content.seal(key, userId, plain.id, 'text', plain.text), parts: content.seal(key, userId, plain.id, 'parts', plain.parts) };
        },
        options,
      );
      return openMessage(row);
    },
    get: async (userId, messageId) => openMessage(await base.get(userId, messageId)),
    findByClientMessageId: async (userId, sessionId, clientMessageId) => openMessage(await base.findByClientMessageId(userId, sessionId, clientMessageId)),
    children: async (userId, sessionId, parentId) => openMessages(await base.children(userId, sessionId, parentId)),
    path: async (userId, sessionId, query) => openMessages(await base.path(userId, sessionId, query)),
    siblings: (userId, sessionId, messageIds) => base.siblings(userId, sessionId, messageIds),
    async updateRun(userId, messageId, runId, patch) {
      let sealed: ChatRunPatch = patch;
      if (patch.text !== undefined || patch.parts !== undefined) {
        const key = await keyOf(userId);
        sealed = {
          ...patch,
          ...(patch.text !== undefined ? { text: content.seal(key, userId, messageId, 'text', patch.text) } : {}),
          ...(patch.parts !== undefined ? { parts: content.seal(key, userId, messageId, 'parts', patch.parts) } : {}),
        };
      }
      return openMessage(await base.updateRun(userId, messageId, runId, sealed));
    },
    requestStop: (userId, messageId, at) => base.requestStop(userId, messageId, at),
    // Recovery reads only ids, runs and leases: the content stays sealed.
    expiredRuns: (now, limit) => base.expiredRuns(now, limit),
    recoverRun: (messageId, runId, now) => base.recoverRun(messageId, runId, now),
    usageTotals: (userId, query) => base.usageTotals(userId, query),
  };

  const sessions = store.chatSessions;
  const chatSessions: ChatSessionsRepository = {
    async insert(row) {
      if (row.title === null) return sessions.insert(row);
      return sessions.insert({ ...row, title: sealTitle(await keyOf(row.userId), row.userId, row.id, row.title) ?? null });
    },
    get: async (userId, sessionId) => openSession(await sessions.get(userId, sessionId)),
    list: async (userId, query) => Promise.all((await sessions.list(userId, query)).map(async (r) => (await openSession(r))!)),
    async update(userId, sessionId, patch) {
      let sealed: ChatSessionPatch = patch;
      if (typeof patch.title === 'string') sealed = { ...patch, title: sealTitle(await keyOf(userId), userId, sessionId, patch.title) ?? null };
      return openSession(await sessions.update(userId, sessionId, sealed));
    },
    setActiveLeaf: (userId, sessionId, leafId, updatedAt) => sessions.setActiveLeaf(userId, sessionId, leafId, updatedAt),
    addUsage: (userId, sessionId, usage, updatedAt) => sessions.addUsage(userId, sessionId, usage, updatedAt),
    delete: (userId, sessionId) => sessions.delete(userId, sessionId),
  };

  const maintenance = store.chatMaintenance;
  const chatMaintenance: ChatMaintenanceRepository = {
    sessionMessages: async (userId, sessionId, query) => openMessages(await maintenance.sessionMessages(userId, sessionId, query)),
    countForUser: (userId) => maintenance.countForUser(userId),
    setTitleIfUntitled: async (userId, sessionId, title) => maintenance.setTitleIfUntitled(userId, sessionId, sealTitle(await keyOf(userId), userId, sessionId, title)!),
    inactiveSessions: (query) => maintenance.inactiveSessions(query),
    countInactiveSessions: (query) => maintenance.countInactiveSessions(query),
    deleteInactiveSessions: (query) => maintenance.deleteInactiveSessions(query),
  };

  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'chatMessages') return chatMessages;
      if (prop === 'chatSessions') return chatSessions;
      if (prop === 'chatMaintenance') return chatMaintenance;
      if (prop === INPUT_HASH_KEYER) return keyInputHash;
      if (prop === 'transaction') {
        return <T>(fn: (tx: Store) => Promise<T>, options?: { retries?: number }) =>
          target.transaction((tx) => fn(tx === target ? receiver : sealedContentStore(tx, content, true)), options);
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
