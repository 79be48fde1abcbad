import type { AnyBulkWriteOperation } from 'mongodb';
import type { CurrentRecord, Derivation, LookupHit, Store } from '../store.js';
import { CURRENT_PROJECTION, lookKeys, type Collections, type CurrentDoc } from './documents.js';

/** State entry holding the version of the Derivation whose keys the documents' `look` fields hold. */
const LOOKUP_VERSION = 'store/lookup-version';

/**
 * Store.lookup on MongoDB: the documents whose `look` holds one of the keys (an index reads them),
 * their entries derived again from the record to give the values; not repaired first (as a search).
 */
export async function readLookup(c: Collections, derivation: Derivation, keys: string[]): Promise<LookupHit[]> {
  const wanted = new Set(keys);
  if (wanted.size === 0) return [];
  const docs = await c.resources.find<CurrentRecord>({ look: { $in: [...wanted] } }, { projection: CURRENT_PROJECTION }).toArray();
  const hits: LookupHit[] = [];
  for (const record of docs) {
    if (record.deleted || !derivation.types.includes(record.type)) continue;
    const seen = new Set<string>();
    for (const { key, value } of derivation.derive(record)) {
      if (wanted.has(key) && !seen.has(key)) hits.push({ key, type: record.type, id: record.id, value });
      seen.add(key);
    }
  }
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return hits.sort((a, b) => order(a.key, b.key) || order(a.type, b.type) || order(a.id, b.id));
}

/**
 * Brings every document's `look` to the Derivation given at open (see lmdb/lookup.ts): a database
 * whose state names another version (or none) has the keys of every current record of the types
 * written again, each guarded by the commit token it was read with (a commit in between wrote its
 * own). Opened without a Derivation, the store forgets the version. Runs before the store serves
 * anything; several servers opening at once each do it, to the same result.
 */
export async function ensureLookup(c: Collections, state: Pick<Store, 'getState' | 'putState'>, derivation: Derivation | undefined, batch = 1000): Promise<void> {
  const held = await state.getState(LOOKUP_VERSION);
  if (!derivation) {
    if (held) await state.putState(LOOKUP_VERSION, undefined, held.rev);
    return;
  }
  if (held?.value === derivation.version) return;
  for (const type of derivation.types) {
    let ops: AnyBulkWriteOperation<CurrentDoc>[] = [];
    const flush = async () => {
      if (ops.length > 0) await c.resources.bulkWrite(ops, { ordered: false });
      ops = [];
    };
    for await (const doc of c.resources.find({ type })) {
      const keys = lookKeys(derivation, doc);
      const update = keys ? { $set: { look: keys } } : { $unset: { look: '' as const } };
      ops.push({ updateOne: { filter: { _id: doc._id, tok: doc.tok }, update } });
      if (ops.length >= batch) await flush();
    }
    await flush();
  }
  await state.putState(LOOKUP_VERSION, derivation.version, held?.rev ?? 0);
}
