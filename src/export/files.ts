import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Store } from '../store/store.js';
import type { ExportFile } from './job.js';

/**
 * An export's files are blobs of the store, which are shared by content: the NDJSON a client
 * downloads could come back as a Binary, and two exports of the same data write the same bytes. So
 * each file's blob begins with a random line that is never served: no one else can produce its
 * bytes, and deleting it (DELETE on the status URL, expiry) removes nothing another job or a
 * Binary uses, without a reference count that writes racing the delete would have to keep right.
 */
const SALT_BYTES = 16;

/** Stores an NDJSON file, behind its random first line. */
export async function writeFile(store: Store, content: AsyncIterable<Uint8Array>): Promise<{ blob: string; salt: number }> {
  const salt = Buffer.from(`${randomBytes(SALT_BYTES).toString('hex')}\n`);
  async function* salted(): AsyncGenerator<Uint8Array> {
    yield salt;
    yield* content;
  }
  const info = await store.putBlob(salted(), { maxBytes: Number.MAX_SAFE_INTEGER });
  return { blob: info.sha256, salt: salt.byteLength };
}

/** A file's content as served (without its random line), or undefined when its blob is gone. */
export async function openFile(store: Store, file: ExportFile): Promise<{ size: number; stream: NodeJS.ReadableStream } | undefined> {
  const opened = await store.openBlob(file.blob);
  if (!opened) return undefined;
  const skip = file.salt ?? 0;
  if (skip === 0) return { size: opened.info.size, stream: opened.stream };
  async function* served(source: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
    let left = skip;
    for await (const chunk of source) {
      const bytes = chunk as Buffer;
      if (left >= bytes.byteLength) {
        left -= bytes.byteLength;
        continue;
      }
      yield left > 0 ? bytes.subarray(left) : bytes;
      left = 0;
    }
  }
  return { size: opened.info.size - skip, stream: Readable.from(served(opened.stream), { objectMode: false }) };
}

/**
 * Deletes the blobs of files this server wrote behind a random line. A file without one (written
 * before files had it) may share its bytes with anything: it is left in place.
 */
export async function removeFiles(store: Store, files: ExportFile[]): Promise<void> {
  for (const file of files) if (file.salt) await store.deleteBlob(file.blob);
}
