import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RootDatabase } from 'lmdb';
import { BlobDigest, digested, isSha256 } from '../blob-hash.js';
import type { BlobInfo, Store } from '../store.js';

export type Blobs = Pick<Store, 'putBlob' | 'openBlob' | 'statBlob' | 'deleteBlob'>;

/** What the file itself does not tell: kept in the LMDB database `blobs`, keyed by SHA-256. */
interface BlobMeta {
  sha1: string;
  size: number;
}

/** A temporary file this old belongs to no running upload (a crash left it): it is removed at open. */
export const STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;

/**
 * Blobs of the embedded engine: content-addressed files `<store path>/blobs/ab/cd/<sha256>`.
 * Content streams into a temporary file in `blobs/tmp/` while it is hashed; the file is synced,
 * then renamed to its address and the directory synced, so a blob is durable before putBlob
 * resolves and a half-written file never gets an address. Identical content has one address, so
 * it is stored once; two uploads of it racing each rename a complete copy, which is harmless.
 */
export async function openBlobs(storePath: string, root: RootDatabase): Promise<Blobs> {
  const dir = join(storePath, 'blobs');
  const tmp = join(dir, 'tmp');
  const meta = root.openDB<BlobMeta, string>('blobs', {});
  await makeDir(dir);
  await makeDir(tmp);
  await sweep(tmp);
  const pathOf = (sha256: string): string => join(dir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);

  /** From the metadata, or from the file when a crash (or a restore) left it without any. */
  async function infoOf(sha256: string, size: number): Promise<BlobInfo> {
    let known = meta.get(sha256);
    if (!known) {
      const digest = new BlobDigest(Number.MAX_SAFE_INTEGER);
      for await (const chunk of createReadStream(pathOf(sha256))) digest.update(chunk as Buffer);
      const found = digest.digest();
      if (found.sha256 !== sha256) throw new Error(`blob ${sha256} is damaged: its content does not match its address`);
      known = { sha1: found.sha1, size: found.size };
      await meta.put(sha256, known);
    }
    if (known.size !== size) throw new Error(`blob ${sha256} is damaged: ${size} bytes instead of ${known.size}`);
    return { sha256, ...known };
  }

  return {
    async putBlob(content, opts) {
      const digest = new BlobDigest(opts.maxBytes);
      const temp = join(tmp, `${randomUUID()}.part`);
      let placed = false;
      try {
        const file = await open(temp, 'wx');
        try {
          for await (const chunk of digested(content, digest)) await writeAll(file, chunk);
          await file.sync();
        } finally {
          await file.close();
        }
        const info = digest.digest();
        // Before the rename: an address never exists without its metadata (short of a restore).
        await meta.put(info.sha256, { sha1: info.sha1, size: info.size });
        const target = pathOf(info.sha256);
        if (await exists(target)) return info;
        await makeDir(dirname(dirname(target)));
        await makeDir(dirname(target));
        await rename(temp, target);
        placed = true;
        await syncDir(dirname(target));
        return info;
      } finally {
        if (!placed) await unlink(temp).catch(() => undefined);
      }
    },

    async openBlob(sha256) {
      if (!isSha256(sha256)) return undefined;
      const file = await open(pathOf(sha256), 'r').catch(undefinedIfMissing);
      if (!file) return undefined;
      try {
        const info = await infoOf(sha256, (await file.stat()).size);
        return { info, stream: file.createReadStream() };
      } catch (err) {
        await file.close();
        throw err;
      }
    },

    async statBlob(sha256) {
      if (!isSha256(sha256)) return undefined;
      const found = await stat(pathOf(sha256)).catch(undefinedIfMissing);
      return found && infoOf(sha256, found.size);
    },

    async deleteBlob(sha256) {
      if (!isSha256(sha256)) return false;
      const path = pathOf(sha256);
      const removed = await unlink(path).then(() => true, (err: unknown) => undefinedIfMissing(err) ?? false);
      if (removed) await syncDir(dirname(path));
      // After the file: metadata without a file names nothing, and a later put of the content rewrites it.
      await meta.remove(sha256);
      return removed;
    },
  };
}

async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let at = 0; at < chunk.byteLength; ) {
    const { bytesWritten } = await file.write(chunk, at, chunk.byteLength - at);
    at += bytesWritten;
  }
}

/** Creates a directory whose parent exists; a new entry is made durable by syncing the parent. */
async function makeDir(path: string): Promise<void> {
  try {
    await mkdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  await syncDir(dirname(path));
}

async function syncDir(path: string): Promise<void> {
  // Windows cannot open a directory to sync it; its file system orders metadata updates itself.
  if (process.platform === 'win32') return;
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(undefinedIfMissing)) !== undefined;
}

function undefinedIfMissing(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw err;
}

/** Removes the temporary files of uploads a crash interrupted. */
async function sweep(tmp: string): Promise<void> {
  const before = Date.now() - STALE_UPLOAD_MS;
  for (const name of await readdir(tmp)) {
    const path = join(tmp, name);
    const found = await stat(path).catch(undefinedIfMissing);
    if (found && found.mtimeMs < before) await unlink(path).catch(undefinedIfMissing);
  }
}
