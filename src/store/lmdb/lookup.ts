import type { CurrentRecord, Derivation, LookupEntry, LookupHit } from '../store.js';
import type { Dbs } from './dbs.js';
import { fitsKey, prefixRange, type Key } from './keys.js';

/** Root key of the version of the Derivation whose entries the lookup table holds. */
const LOOKUP_VERSION = 'lookup-version';

/** lookup: [key, type, id] -> value, for the current records of the Derivation's types that are not deleted. */
const lookupKey = (key: string, type: string, id: string): Key => [key, type, id];

/**
 * The entries a record gives (none for a deletion or a type the derivation leaves out). A key too
 * long for LMDB with the type and id (about 1,900 bytes) is left out: a Derivation must not give one
 * it will ask for.
 */
function entriesOf(derivation: Derivation | undefined, record: CurrentRecord | undefined): Array<[Key, unknown]> {
  if (!derivation || !record || record.deleted || !derivation.types.includes(record.type)) return [];
  const out = new Map<string, [Key, unknown]>();
  for (const { key, value } of derivation.derive(record)) {
    const k = lookupKey(key, record.type, record.id);
    if (fitsKey(k)) out.set(key, [k, value]);
  }
  return [...out.values()];
}

/** Inside a write transaction: the entries of `previous` give way to those of `next`. */
export function replaceLookup(dbs: Dbs, previous: CurrentRecord | undefined, next: CurrentRecord | undefined): void {
  const derivation = dbs.derivation;
  if (!derivation) return;
  const after = entriesOf(derivation, next);
  const kept = new Set(after.map(([k]) => k[0] as string));
  for (const [k] of entriesOf(derivation, previous)) if (!kept.has(k[0] as string)) dbs.lookup.removeSync(k);
  for (const [k, value] of after) dbs.lookup.putSync(k, value as LookupEntry['value']);
}

/** The entries of a new record, for writes that read nothing first (append.ts). */
export function newLookupWrites(dbs: Dbs, record: CurrentRecord): Array<[Key, unknown]> {
  return entriesOf(dbs.derivation, record);
}

export function readLookup(dbs: Dbs, keys: string[]): LookupHit[] {
  const hits: LookupHit[] = [];
  for (const key of [...new Set(keys)].sort()) {
    for (const { key: k, value } of dbs.lookup.getRange(prefixRange(key))) {
      hits.push({ key, type: k[1] as string, id: k[2] as string, value });
    }
  }
  return hits;
}

/**
 * Brings the lookup table to the Derivation given at open: a store that held entries of another
 * version (or none: a store of an earlier layout, or opened without one meanwhile, whose writes then
 * kept no entries) has them derived again from every current record of its types, in one write
 * transaction, so no process reads half of them. Opened without a Derivation, the store forgets the
 * version it held: its writes keep no entries, and the next open with one derives them all again.
 */
export async function ensureLookup(dbs: Dbs, log?: (message: string) => void): Promise<void> {
  const derivation = dbs.derivation;
  const held = dbs.root.get(LOOKUP_VERSION) as string | undefined;
  if (!derivation) {
    if (held !== undefined) await dbs.root.childTransaction(() => dbs.root.removeSync(LOOKUP_VERSION));
    return;
  }
  if (held === derivation.version) return;
  let derived = 0;
  await dbs.root.childTransaction(() => {
    // Another process may have derived them while this one waited for the write lock.
    if (dbs.root.get(LOOKUP_VERSION) === derivation.version) return;
    dbs.lookup.clearSync();
    for (const type of derivation.types) {
      for (const { value } of dbs.current.getRange(prefixRange(type))) {
        const entries = entriesOf(derivation, value);
        for (const [k, v] of entries) dbs.lookup.putSync(k, v as LookupEntry['value']);
        if (entries.length > 0) derived++;
      }
    }
    dbs.root.putSync(LOOKUP_VERSION, derivation.version);
  });
  if (derived > 0) log?.(`derived the lookup entries (${derivation.version}) of ${derived} records`);
}
