import { ByokError } from '../errors';
import { isUuid } from '../util/ids';

/**
 * The SSE `id` of a chat event: `<runId>:<position>`. A reply's run id is its assistant
 * message id (one row, one run), so a `Last-Event-ID` names the message it resumes.
 *
 * @example
 * formatRunEventId({ runId: '0190a6f1-7c1e-7000-8000-000000000001', position: 7 }) // '0190a6f1-7c1e-7000-8000-000000000001:7'
 */
export function formatRunEventId(event: { runId: string; position: number }): string {
  return `${event.runId}:${event.position}`;
}

/** Reads a `Last-Event-ID`; anything byok did not send is `validation_failed`. */
export function parseRunEventId(value: string): { runId: string; position: number } {
  const match = /^([0-9a-f-]{36}):(\d{1,9})$/.exec(value.trim());
  if (!match || !isUuid(match[1])) throw new ByokError('validation_failed', 'The last event id is not one byok sent');
  return { runId: match[1]!, position: Number(match[2]) };
}
