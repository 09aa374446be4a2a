// The Gemini stand-in in a process of its own, so the 1,000-stream bench measures byok's
// event loop and not the stand-in's. Prints `{"url": ...}` on its first stdout line and
// exits when its stdin closes.
import { startGeminiStandIn } from '@byok/testing/llm';
import { STREAM_CHUNK_DELAY_MS, STREAM_CHUNKS, streamReply } from './stream-reply';

const standIn = await startGeminiStandIn({
  acceptKey: () => true,
  chunks: STREAM_CHUNKS,
  chunkDelayMs: STREAM_CHUNK_DELAY_MS,
  reply: (turn) => streamReply(turn.messages.filter((m) => m.role === 'user').at(-1)?.text ?? ''),
});
process.stdout.write(`${JSON.stringify({ url: standIn.url })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void standIn.close().finally(() => process.exit(0));
});
