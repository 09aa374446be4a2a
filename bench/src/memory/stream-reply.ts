/** How many stream chunks the out-of-process stand-in cuts each reply into, and the pause between them. */
export const STREAM_CHUNKS = 200;
export const STREAM_CHUNK_DELAY_MS = 25;

/**
 * The reply the out-of-process stand-in streams to the message `prompt`: about 1,000
 * tokens (≈ 4,000 characters at four a token), different for every prompt so a reply
 * stored under the wrong message cannot pass the byte-for-byte check.
 */
export function streamReply(prompt: string): string {
  const tag = prompt.replace(/[^a-z0-9]/gi, '').slice(-12);
  return `${tag}: ${Array.from({ length: 700 }, (_, i) => `w${i}`).join(' ')}`;
}
