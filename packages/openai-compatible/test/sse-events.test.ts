import { describe, expect, it } from 'vitest';
import { sseEvents } from '../src/sse-events';

function bodyOf(pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
}

async function all(pieces: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const event of sseEvents(bodyOf(pieces))) out.push(event.data);
  return out;
}

describe('sseEvents', () => {
  it('reads LF, CRLF and CR separated events', async () => {
    expect(await all(['data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: [DONE]\n\n'])).toEqual(['a', 'b', 'c', '[DONE]']);
  });

  it('joins multi-line data and skips comments and other fields', async () => {
    expect(await all([': keep-alive\n\nevent: message\nid: 1\ndata: {"a":\ndata: 1}\n\n'])).toEqual(['{"a":\n1}']);
  });

  it('reassembles events split anywhere across chunks, including inside CRLF', async () => {
    expect(await all(['da', 'ta: hel', 'lo\r', '\n\r', '\ndata:x\n', '\n'])).toEqual(['hello', 'x']);
  });

  it('delivers a last event that has no blank line after it', async () => {
    expect(await all(['data: one\n\ndata: two'])).toEqual(['one', 'two']);
  });

  it('calls onChunk for every chunk of bytes', async () => {
    let count = 0;
    for await (const _ of sseEvents(bodyOf(['data: a\n', '\n', 'data: b\n\n']), () => (count += 1))) void _;
    expect(count).toBe(3);
  });

  it('names each event by its `event:` field, for that event only', async () => {
    const out = [];
    for await (const event of sseEvents(bodyOf(['data: a\n\nevent: error\ndata: {"message":"x"}\n\nevent:ping\n', 'data: p\n\ndata: b\n\n']))) out.push(event);
    expect(out).toEqual([{ data: 'a' }, { event: 'error', data: '{"message":"x"}' }, { event: 'ping', data: 'p' }, { data: 'b' }]);
  });
});
