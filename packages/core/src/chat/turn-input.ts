import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json';
import { ByokError } from '../errors';
import type { TextPart } from '../llm/message-parts';
import { parseChatInput, turnInputSchema, type TurnInput } from './chat-schemas';

/** What a turn asks for, as hashed for idempotency. */
export type TurnKind =
  | { kind: 'send'; parentId?: string | null }
  | { kind: 'edit'; messageId: string }
  | { kind: 'regenerate'; messageId: string };

/** The user's input as the parts stored on their message. */
export function turnParts(input: TurnInput): TextPart[] {
  const parsed = parseChatInput(turnInputSchema, input, 'message');
  if ('text' in parsed) return [{ type: 'text', text: parsed.text }];
  const parts = parsed.parts.map((p): TextPart => ({ type: 'text', text: p.text }));
  if (parts.every((p) => p.text === '')) throw new ByokError('validation_failed', 'Invalid message (parts): it has no text');
  return parts;
}

/**
 * SHA-256 (hex) of a turn's request: what it is (send, edit, regenerate and their target)
 * and what the user said, in RFC 8785 canonical JSON. A retry with the same idempotency key
 * has the same hash; reusing the key for anything else does not.
 *
 * @example
 * turnInputHash({ kind: 'send' }, [{ type: 'text', text: 'Hi' }]) === turnInputHash({ kind: 'send' }, [{ type: 'text', text: 'Hi' }]) // true
 */
export function turnInputHash(turn: TurnKind, parts: readonly TextPart[] | null): string {
  return createHash('sha256').update(canonicalJson({ turn, parts })).digest('hex');
}
