import { createHash } from 'node:crypto';
import { BlobTooLarge, type BlobInfo } from './store.js';

/** A SHA-256 as blobs are addressed: 64 lowercase hex digits. Anything else names no blob. */
export const isSha256 = (value: string): boolean => /^[0-9a-f]{64}$/.test(value);

/**
 * Hashes and counts content on its way to storage, refusing it past maxBytes. Each engine passes
 * every chunk through update() before writing it, so it never writes more than maxBytes.
 */
export class BlobDigest {
  readonly #sha256 = createHash('sha256');
  readonly #sha1 = createHash('sha1');
  #size = 0;

  constructor(readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new TypeError(`maxBytes must be a byte count, not ${maxBytes}`);
  }

  update(chunk: Uint8Array): void {
    if (this.#size + chunk.byteLength > this.maxBytes) throw new BlobTooLarge(this.maxBytes);
    this.#sha256.update(chunk);
    this.#sha1.update(chunk);
    this.#size += chunk.byteLength;
  }

  /** Once, after the last chunk. */
  digest(): BlobInfo {
    return { sha256: this.#sha256.digest('hex'), sha1: this.#sha1.digest('base64'), size: this.#size };
  }
}

/**
 * The content's chunks, each passed through the digest before it is handed on. A throw (the limit,
 * a chunk that is not bytes) ends the iteration of the source, which destroys a Node stream: the
 * rest of an oversized upload is not read.
 */
export async function* digested(content: AsyncIterable<Uint8Array> | Uint8Array, digest: BlobDigest): AsyncGenerator<Uint8Array> {
  if (content instanceof Uint8Array) {
    digest.update(content);
    yield content;
    return;
  }
  for await (const chunk of content) {
    // A Node stream with an encoding set yields strings: decoding would alter the content.
    if (!(chunk instanceof Uint8Array)) throw new TypeError('binary content must come as Uint8Array chunks');
    if (chunk.byteLength === 0) continue;
    digest.update(chunk);
    yield chunk;
  }
}
