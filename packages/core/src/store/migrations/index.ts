import { foundation } from './0001-foundation';
import { vault } from './0002-vault';
import { auth } from './0003-auth';
import { chat } from './0004-chat';
import { chatRetention } from './0005-chat-retention';
import { chatContentKeys } from './0006-chat-content-keys';
import type { Migration } from './migration';

/**
 * Every migration byok knows, in the order they run. To add one: create the next
 * numbered file in this folder (`0002-<capability>.ts` exporting a `Migration` whose
 * `name` is the file name) and append it to this array — one import, one entry. Never
 * edit, reorder or remove an entry that has been released.
 */
export const migrations: readonly Migration[] = [foundation, vault, auth, chat, chatRetention, chatContentKeys];
