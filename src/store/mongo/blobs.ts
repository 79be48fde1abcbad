import { finished } from 'node:stream/promises';
import {
  GridFSBucket,
  MongoServerError,
  ObjectId,
  type Collection,
  type Db,
  type GridFSBucketWriteStream,
  type GridFSChunk,
  type GridFSFile,
} from 'mongodb';
import { BlobDigest, digested, isSha256 } from '../blob-hash.js';
import type { BlobInfo, Store } from '../store.js';

export type Blobs = Pick<Store, 'putBlob' | 'openBlob' | 'statBlob' | 'deleteBlob'>;

/**
 * An upload in progress, recorded before its first chunk so that what a crash leaves of it can be
 * found and removed. `final` once its content is complete; `sweep` once claimed for removal.
 */
interface UploadDoc {
  _id: ObjectId;
  at: Date;
  state: 'upload' | 'final' | 'sweep';
}

/** An upload recorded this long ago belongs to no running putBlob (a crash left it): removed at open. */
export const STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;

const BUCKET = 'blobs';
/** The name of a file until its content is complete and it is named by its SHA-256. */
export const tempName = (id: ObjectId): string => `upload-${id.toHexString()}`;

/**
 * Blobs of the MongoDB engine: the GridFS bucket `blobs` (collections `blobs.files`, `blobs.chunks`),
 * one file per content, named by its SHA-256 with metadata {sha1, size}, written with majority,
 * journaled write concern. The SHA-256 is known only at the end of the upload, so content is
 * uploaded under a temporary name, then renamed to its SHA-256, or deleted when that name exists:
 * a unique index on filename decides between uploads of the same content that race. A file is named
 * only once complete, so a half-written upload never becomes a blob; `blobs.uploads` records each
 * upload until it is named or removed, so that what a crash leaves is removed at a later open.
 */
export async function openBlobs(db: Db): Promise<Blobs> {
  const bucket = new GridFSBucket(db, { bucketName: BUCKET, writeConcern: { w: 'majority', journal: true } });
  const files = db.collection<GridFSFile>(`${BUCKET}.files`);
  const chunks = db.collection<GridFSChunk>(`${BUCKET}.chunks`);
  const uploads = db.collection<UploadDoc>(`${BUCKET}.uploads`);
  await ensureUniqueFilename(files);

  /**
   * Removes what is left of an upload that did not become a blob, file document first: a rename
   * racing it then fails instead of naming a file without chunks. One named all the same (a rename
   * whose reply was lost) is a blob and keeps its chunks.
   */
  async function discard(id: ObjectId): Promise<void> {
    await files.deleteOne({ _id: id, filename: tempName(id) });
    if (!(await files.findOne({ _id: id }, { projection: { _id: 1 } }))) await chunks.deleteMany({ files_id: id });
    await uploads.deleteOne({ _id: id });
  }

  /** Names the upload by its content; false when a file of that content exists already. */
  async function name(id: ObjectId, info: BlobInfo): Promise<boolean> {
    if (await files.findOne({ filename: info.sha256 }, { projection: { _id: 1 } })) return false;
    try {
      const named = await files.updateOne(
        { _id: id, filename: tempName(id) },
        { $set: { filename: info.sha256, metadata: { sha1: info.sha1, size: info.size } } },
      );
      if (named.matchedCount !== 1) throw new Error('the upload was removed before it could be named');
      return true;
    } catch (err) {
      // The unique index refused the name: another upload of the same content took it first.
      // Checked rather than read from the error: FerretDB v1.24 reports this violation on an update
      // as InternalError (code 1), not as duplicate key 11000.
      const holder = await files.findOne({ filename: info.sha256 }, { projection: { _id: 1 } });
      if (holder && !holder._id.equals(id)) return false;
      throw err;
    }
  }

  async function sweep(): Promise<void> {
    const before = new Date(Date.now() - STALE_UPLOAD_MS);
    for (const stale of await uploads.find({ at: { $lt: before } }).toArray()) {
      if (stale.state === 'upload') {
        // Claimed against its uploader, which moves it to `final` when its content is complete.
        const claimed = await uploads.updateOne({ _id: stale._id, state: 'upload' }, { $set: { state: 'sweep' } });
        if (claimed.matchedCount !== 1) continue;
      }
      await discard(stale._id);
    }
  }
  await sweep();

  return {
    async putBlob(content, opts) {
      const digest = new BlobDigest(opts.maxBytes);
      const id = new ObjectId();
      await uploads.insertOne({ _id: id, at: new Date(), state: 'upload' });
      const stream = bucket.openUploadStreamWithId(id, tempName(id));
      const state = { streamFailed: false };
      let kept = false;
      try {
        await upload(stream, digested(content, digest), state);
        const info = digest.digest();
        const claimed = await uploads.updateOne({ _id: id, state: 'upload' }, { $set: { state: 'final', at: new Date() } });
        if (claimed.matchedCount !== 1) throw new Error('the upload outlived STALE_UPLOAD_MS and was removed');
        kept = await name(id, info);
        return info;
      } finally {
        stream.destroy();
        if (kept) await uploads.deleteOne({ _id: id }).catch(() => undefined);
        // Chunk inserts of a failed upload stream may still land after a removal now: the sweep removes them later.
        else if (!state.streamFailed) await discard(id).catch(() => undefined);
      }
    },

    async openBlob(sha256) {
      if (!isSha256(sha256)) return undefined;
      const file = await files.findOne({ filename: sha256 });
      return file ? { info: infoOf(file), stream: bucket.openDownloadStream(file._id) } : undefined;
    },

    async statBlob(sha256) {
      if (!isSha256(sha256)) return undefined;
      const file = await files.findOne({ filename: sha256 });
      return file ? infoOf(file) : undefined;
    },

    async deleteBlob(sha256) {
      if (!isSha256(sha256)) return false;
      const file = await files.findOne({ filename: sha256 }, { projection: { _id: 1 } });
      if (!file) return false;
      // Recorded first: chunks that a crash leaves without their file are removed by a later open's sweep.
      const marked = await uploads.updateOne({ _id: file._id }, { $set: { at: new Date(), state: 'sweep' } }, { upsert: true }).then(
        () => true,
        // Deletes racing each upsert the record: the loser's duplicate key error says it exists, or that the winner is done.
        async (err: unknown) => {
          if (await uploads.findOne({ _id: file._id }, { projection: { _id: 1 } })) return true;
          if (!(await files.findOne({ _id: file._id }, { projection: { _id: 1 } }))) return false;
          throw err;
        },
      );
      if (!marked) return false;
      // The file document first: the blob is gone from then on, and its chunks are no one's.
      const removed = await files.deleteOne({ _id: file._id });
      await chunks.deleteMany({ files_id: file._id });
      await uploads.deleteOne({ _id: file._id });
      return removed.deletedCount === 1;
    },
  };
}

/**
 * Writes each chunk once the previous one is stored, then ends the upload, which inserts its file
 * document. An error of the upload stream itself sets state.streamFailed.
 */
async function upload(stream: GridFSBucketWriteStream, content: AsyncIterable<Uint8Array>, state: { streamFailed: boolean }): Promise<void> {
  // Every error reaches a write or end below; without a listener an 'error' event would crash the process.
  stream.on('error', () => undefined);
  const failed = (err: unknown): never => {
    state.streamFailed = true;
    throw err;
  };
  for await (const chunk of content) {
    await new Promise<void>((resolve, reject) => stream.write(chunk, (err) => (err ? reject(err) : resolve()))).catch(failed);
  }
  stream.end();
  await finished(stream).catch(failed);
}

function infoOf(file: GridFSFile): BlobInfo {
  const sha1: unknown = file.metadata?.sha1;
  if (typeof sha1 !== 'string' || file.metadata?.size !== file.length) {
    throw new Error(`blob ${file.filename} has damaged metadata`);
  }
  return { sha256: file.filename, sha1, size: file.length };
}

/** Listed first: FerretDB v1.24 crashes its connection handler when asked to create an existing index. */
async function ensureUniqueFilename(files: Collection<GridFSFile>): Promise<void> {
  const existing = await files
    .listIndexes()
    .toArray()
    .catch((err: unknown) => {
      if (err instanceof MongoServerError && err.code === NAMESPACE_NOT_FOUND) return [];
      throw err;
    });
  if (existing.some((index) => index.unique === true && JSON.stringify(index.key) === '{"filename":1}')) return;
  await files.createIndex({ filename: 1 }, { unique: true });
}

const NAMESPACE_NOT_FOUND = 26;
