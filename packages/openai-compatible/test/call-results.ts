import { isByokError, type ByokError, type StreamEvent } from '@byok/core';

/** The ByokError a call fails with (any other outcome fails the test). */
export async function failureOf(promise: Promise<unknown>): Promise<ByokError> {
  try {
    await promise;
  } catch (error) {
    if (isByokError(error)) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

/** Every event of a stream. */
export async function collect(iterable: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

export const hi = [{ role: 'user' as const, parts: [{ type: 'text' as const, text: 'hi' }] }];
