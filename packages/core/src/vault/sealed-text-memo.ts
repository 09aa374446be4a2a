/**
 * Sealed values as the store keeps them (base64url text) decoded to the bytes the sealer
 * opens, remembered for the last `maxEntries` distinct values. `withKey` runs on every
 * chat turn, mostly on the same few keys: a lookup by the text costs less than decoding
 * and allocating again. Only ciphertext is held (public without its data key); a value
 * that changes (a new key, a rewrap) is new text and is decoded anew. The sealer only
 * reads the bytes, so one buffer can serve many opens.
 */
export class SealedTextMemo {
  readonly #maxEntries: number;
  readonly #bytes = new Map<string, Buffer>();

  constructor(maxEntries = 1024) {
    this.#maxEntries = Math.max(1, Math.floor(maxEntries));
  }

  /** The bytes of one stored sealed value. */
  bytesOf(text: string): Buffer {
    let bytes = this.#bytes.get(text);
    if (bytes === undefined) {
      bytes = Buffer.from(text, 'base64url');
      // first in, first out: a value in use is decoded again at worst once per round
      if (this.#bytes.size >= this.#maxEntries) this.#bytes.delete(this.#bytes.keys().next().value!);
      this.#bytes.set(text, bytes);
    }
    return bytes;
  }

  /** How many values are remembered (tests). */
  get size(): number {
    return this.#bytes.size;
  }
}
