import { randomUUID } from 'node:crypto';
import type { ClientSession, TransactionOptions } from 'mongodb';
import { StoreConflict, type Write } from '../store.js';
import { currentKey, toCurrentDoc, toVersionDoc, versionKey, type Collections, type CurrentDoc, type VersionDoc } from './documents.js';
import { isDuplicateKey } from './errors.js';
import { readDoc, readRepaired } from './repair.js';

const TRANSACTION_OPTIONS: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority', journal: true },
  readPreference: 'primary',
};

/**
 * All writes in one transaction. withTransaction retries the whole callback on
 * TransientTransactionError (e.g. a write conflict with a crossing commit) and retries the commit
 * on UnknownTransactionCommitResult, so the reads the expectations need happen inside it.
 */
export async function commitInTransaction(c: Collections, writes: Write[]): Promise<void> {
  if (writes.length === 0) return;
  assertDistinct(writes);
  await c.client.withSession((session) =>
    session.withTransaction(async () => {
      const token = randomUUID();
      const keys = writes.map((w) => currentKey(w.record.type, w.record.id));
      const found = await c.resources.find({ _id: { $in: keys } }, { session }).toArray();
      const previous = keys.map((key) => found.find((doc) => doc._id === key));
      writes.forEach((w, i) => checkExpectation(w, previous[i]));
      for (const [i, write] of writes.entries()) {
        const before = previous[i];
        await writeVersion(c, write, before, toVersionDoc(write.record), session);
        if (!(await putCurrent(c, toCurrentDoc(write.record, token, c.derivation), before, session))) {
          throw new StoreConflict(write.record.type, write.record.id, before?.versionId ?? 0);
        }
      }
    }, TRANSACTION_OPTIONS),
  );
}

interface Attempted {
  write: Write;
  previous: CurrentDoc | undefined;
  /** The version document a write with expectation `any` replaced; undefined until known. */
  replaced?: VersionDoc | null;
}

/**
 * Without transactions: check every expectation, then write in order, each version first and
 * then its current record guarded by the document read, and on a failure undo what was written,
 * newest first.
 */
export async function commitInOrder(c: Collections, writes: Write[]): Promise<void> {
  if (writes.length === 0) return;
  assertDistinct(writes);
  const previous = await Promise.all(writes.map((w) => readRepaired(c, w.record.type, w.record.id)));
  writes.forEach((w, i) => checkExpectation(w, previous[i]));

  const token = randomUUID();
  const attempted: Attempted[] = [];
  try {
    for (const [i, write] of writes.entries()) {
      const { record } = write;
      const before = previous[i];
      // Recorded before writing: a write that fails may still have been applied (a lost reply).
      const entry: Attempted = { write, previous: before };
      attempted.push(entry);
      entry.replaced = await writeVersion(c, write, before, toVersionDoc(record, { token, at: new Date() }));
      if (!(await putCurrent(c, toCurrentDoc(record, token, c.derivation), before))) {
        const now = await readDoc(c, record.type, record.id);
        // A repair may have rolled our own write forward already.
        if (now?.tok !== token) throw new StoreConflict(record.type, record.id, now?.versionId ?? 0);
      }
    }
  } catch (err) {
    await compensate(c, attempted, token, err);
    throw err;
  }
}

/**
 * Every step is guarded by the commit's token, so it undoes only what this commit wrote. Each
 * previous current record is restored before the version is undone: the other order would leave,
 * after a crash in between, a current record whose version is gone from history, whereas this one
 * leaves a version that repair rolls forward.
 */
async function compensate(c: Collections, attempted: Attempted[], token: string, cause: unknown): Promise<void> {
  const failures: unknown[] = [];
  for (const { write, previous, replaced } of attempted.reverse()) {
    const { type, id, versionId } = write.record;
    const mine = { _id: currentKey(type, id), tok: token };
    const myVersion = { _id: versionKey(type, id, versionId), 'commit.token': token };
    try {
      if (previous) await c.resources.replaceOne(mine, previous);
      else await c.resources.deleteOne(mine);
      if (replaced) await c.versions.replaceOne(myVersion, replaced);
      // A rewrite with an unknown outcome stays, for repair: the version it may have replaced is lost.
      else if (replaced === null || write.expect.kind !== 'any') await c.versions.deleteOne(myVersion);
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) {
    throw new AggregateError([cause, ...failures], 'commit failed and could not be undone: it may be partly applied');
  }
}

function assertDistinct(writes: Write[]): void {
  const keys = new Set(writes.map((w) => currentKey(w.record.type, w.record.id)));
  if (keys.size !== writes.length) throw new Error('commit: a resource appears in more than one write');
}

function checkExpectation({ record, expect }: Write, current: CurrentDoc | undefined): void {
  const actual = current?.versionId ?? 0;
  const holds = expect.kind === 'any' || (expect.kind === 'absent' ? current === undefined : actual === expect.versionId);
  if (!holds) throw new StoreConflict(record.type, record.id, actual);
}

/**
 * With an expectation, inserting the version decides who made it: a duplicate key means another
 * commit did. Expectation `any` writes unconditionally, replacing a version of the same number
 * (as the embedded engine does); the replaced document is returned for compensation.
 */
async function writeVersion(
  c: Collections,
  { record, expect }: Write,
  before: CurrentDoc | undefined,
  doc: VersionDoc,
  session?: ClientSession,
): Promise<VersionDoc | null> {
  if (expect.kind === 'any') {
    return c.versions.findOneAndReplace({ _id: doc._id }, doc, { upsert: true, returnDocument: 'before', session });
  }
  try {
    await c.versions.insertOne(doc, { session });
    return null;
  } catch (err) {
    if (isDuplicateKey(err)) throw new StoreConflict(record.type, record.id, Math.max(record.versionId, before?.versionId ?? 0));
    throw err;
  }
}

/** Writes the current document if the stored one is still `before` (absent when undefined). */
async function putCurrent(c: Collections, doc: CurrentDoc, before: CurrentDoc | undefined, session?: ClientSession): Promise<boolean> {
  if (before) {
    const result = await c.resources.replaceOne({ _id: doc._id, tok: before.tok }, doc, { session });
    return result.matchedCount === 1;
  }
  try {
    await c.resources.insertOne(doc, { session });
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}
