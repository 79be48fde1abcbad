import { StoreConflict, type CurrentRecord, type Expectation, type VersionRecord, type Write } from '../store.js';
import type { Dbs } from './dbs.js';
import { kept, readVersion, uncopied } from './derived.js';
import { compKey, currentKey, fitsKey, systemHistoryKey, typeHistoryKey, versionKey, type Key } from './keys.js';
import { marksOf, newMark } from './marks.js';
import { WRITER_PREFIX } from './plan.js';
import { replaceLookup } from './lookup.js';
import { replaceTerms } from './terms.js';

/**
 * One LMDB write transaction per commit. The callback runs on the main thread inside the write
 * transaction (LMDB has a single writer), so the expectations it reads cannot change before its
 * writes; as a child transaction, a throw rolls back whatever it wrote. The promise resolves after
 * the enclosing batch is committed and synced: lmdb-js groups the commits queued meanwhile into
 * one transaction and one fdatasync (16 concurrent creates: about 12 per sync).
 *
 * The records are encoded when the callback runs, in a later event turn, not when commit() is
 * called: a caller must not change them before the promise settles (the executor and the
 * transaction interaction await it). They are not copied: structuredClone of a record cost about
 * as much as encoding it.
 */
export function commit(dbs: Dbs, writes: Write[], found: (query: Write['unlessFound'] & object) => boolean, marked: ReadonlySet<string> = new Set()): Promise<void> {
  if (writes.length === 0) return Promise.resolve();
  return dbs.root.childTransaction(() => {
    for (const write of writes) check(dbs, write.record, write.expect);
    // In the write transaction: what it reads includes every commit that landed before.
    for (const { record, unlessFound } of writes) {
      if (unlessFound && found(unlessFound)) throw new StoreConflict(record.type, record.id, 0);
    }
    const marks = new Set<string>();
    for (const write of writes) apply(dbs, write.record, marked.has(write.record.type) ? marks : undefined);
    // In the same transaction as the writes: a reader that sees the old mark read the old data.
    for (const key of marks) dbs.marks.putSync(key, newMark());
  });
}


function check(dbs: Dbs, record: CurrentRecord, expect: Expectation): void {
  if (expect.kind === 'any') return;
  const actual = dbs.current.get(currentKey(record.type, record.id))?.versionId ?? 0;
  const expected = expect.kind === 'absent' ? 0 : expect.versionId;
  if (actual !== expected) throw new StoreConflict(record.type, record.id, actual);
}

function apply(dbs: Dbs, record: CurrentRecord, marks: Set<string> | undefined): void {
  const { type, id, versionId, lastUpdated } = record;
  const previous = dbs.current.get(currentKey(type, id));
  if (marks) for (const key of marksOf(record, previous)) marks.add(key);
  if (previous && !previous.deleted) {
    for (const comp of previous.comp) dbs.comp.removeSync(compKey(comp, type, id));
    for (const key of writerKeys(previous)) dbs.comp.removeSync(key);
  }
  dbs.current.putSync(currentKey(type, id), kept(dbs, record));
  replaceTerms(dbs, previous, record);
  replaceLookup(dbs, previous, record);
  if (!record.deleted) {
    for (const comp of new Set(record.comp)) dbs.comp.putSync(compKey(comp, type, id), null);
    for (const key of writerKeys(record)) dbs.comp.putSync(key, null);
  }

  // A current record that stood for its own version (derived.ts) leaves its copy before it is replaced.
  if (previous && previous.versionId !== versionId && uncopied(dbs, type) && !dbs.versions.doesExist(versionKey(type, id, previous.versionId))) {
    dbs.versions.putSync(versionKey(type, id, previous.versionId), versionOf(previous));
  }
  // A rewritten versionId must not leave its old place in the history order behind.
  const replaced = readVersion(dbs, type, id, versionId, previous ?? null);
  if (replaced) {
    dbs.typeHistory.removeSync(typeHistoryKey(type, replaced.lastUpdated, id, versionId));
    dbs.systemHistory.removeSync(systemHistoryKey(replaced.lastUpdated, type, id, versionId));
  }
  dbs.versions.putSync(versionKey(type, id, versionId), versionOf(record));
  dbs.typeHistory.putSync(typeHistoryKey(type, lastUpdated, id, versionId), null);
  dbs.systemHistory.putSync(systemHistoryKey(lastUpdated, type, id, versionId), null);
}

/**
 * The writers of a record beside its compartments, under their own prefix: a professional's search
 * across patients reads what they wrote from there (plan.ts, `reach`). A writer too long for a key
 * (a system client's subject) is left out: system clients are confined by nothing.
 */
export function writerKeys(record: CurrentRecord): Key[] {
  return (record.by ?? []).map((w) => compKey(WRITER_PREFIX + w, record.type, record.id)).filter(fitsKey);
}

export function versionOf(record: CurrentRecord): VersionRecord {
  const { type, id, versionId, lastUpdated, deleted, resource, writer } = record;
  const version: VersionRecord = { type, id, versionId, lastUpdated, deleted };
  if (resource !== undefined) version.resource = resource;
  if (writer !== undefined) version.writer = writer;
  return version;
}
