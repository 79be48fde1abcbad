import type { CurrentRecord, Derivation, LookupHit } from '../store.js';
import type { Dbs } from './dbs.js';
import { fitsKey, prefixRange } from './keys.js';

/**
 * Root key of what the lookup table holds: its layout and the version of the Derivation its
 * entries come from. Either changing derives every entry again at open.
 */
const LOOKUP_VERSION = 'lookup-version';
const LAYOUT = 'by-key';
const versionOf = (derivation: Derivation) => `${LAYOUT}:${derivation.version}`;

/**
 * lookup: key -> the entries of the current records that give it, [type, id, value], by type then
 * id. A request reads a key with one `get` (a range read per key cost about twice as much in
 * process, and its cursor positioning showed in a request's profile); a write reads the key's
 * entries and writes them back, in its transaction.
 */
export type LookupEntries = Array<[type: string, id: string, value: unknown]>;

/** What a record gives: its value under each key, and whether it alone gives that key (Store's LookupEntry.sole). */
type Given = Map<string, { value: unknown; sole: boolean }>;

/**
 * The entries a record gives (none for a deletion or a type the derivation leaves out). A key too
 * long for LMDB (about 1,900 bytes) is left out: a Derivation must not give one it will ask for.
 */
function entriesOf(derivation: Derivation | undefined, record: CurrentRecord | undefined): Given {
  const out: Given = new Map();
  if (!derivation || !record || record.deleted || !derivation.types.includes(record.type)) return out;
  for (const { key, value, sole } of derivation.derive(record)) {
    if (fitsKey([key])) out.set(key, { value, sole: sole === true });
  }
  return out;
}

const byTypeThenId = (a: LookupEntries[number], b: LookupEntries[number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

/** Inside a write transaction: the entry of (type, id) under `key` becomes `value`, or goes (NONE). */
const NONE = Symbol('none');
function setEntry(dbs: Dbs, key: string, type: string, id: string, value: unknown): void {
  const held = dbs.lookup.get(key) ?? [];
  const rest = held.filter(([t, i]) => t !== type || i !== id);
  if (value !== NONE) rest.push([type, id, value]);
  if (rest.length === 0) {
    if (held.length > 0) dbs.lookup.removeSync(key);
    return;
  }
  dbs.lookup.putSync(key, rest.sort(byTypeThenId));
}

/** Inside a write transaction: the entries of `previous` give way to those of `next` (the same record). */
export function replaceLookup(dbs: Dbs, previous: CurrentRecord | undefined, next: CurrentRecord | undefined): void {
  const derivation = dbs.derivation;
  const record = next ?? previous;
  if (!derivation || !record) return;
  const after = entriesOf(derivation, next);
  for (const key of entriesOf(derivation, previous).keys()) if (!after.has(key)) setEntry(dbs, key, record.type, record.id, NONE);
  for (const [key, { value }] of after) setEntry(dbs, key, record.type, record.id, value);
}

/**
 * The writes of a new record's entries for an append, which reads nothing first (append.ts): each
 * key is written whole, so only a key the record alone gives can be; undefined when another of its
 * keys may hold other records' entries (the record is then committed as any other write).
 */
export function newLookupWrites(dbs: Dbs, record: CurrentRecord): Array<[string, LookupEntries]> | undefined {
  const given = entriesOf(dbs.derivation, record);
  const writes: Array<[string, LookupEntries]> = [];
  for (const [key, { value, sole }] of given) {
    if (!sole) return undefined;
    writes.push([key, [[record.type, record.id, value]]]);
  }
  return writes;
}

export function readLookup(dbs: Dbs, keys: string[]): LookupHit[] {
  const hits: LookupHit[] = [];
  for (const key of [...new Set(keys)].sort()) {
    const held = dbs.lookup.get(key);
    if (held) for (const [type, id, value] of held) hits.push({ key, type, id, value });
  }
  return hits;
}

/**
 * Brings the lookup table to the Derivation given at open: a store that held entries of another
 * version or layout (or none: a store of an earlier layout, or opened without one meanwhile, whose
 * writes then kept no entries) has them derived again from every current record of its types, in
 * one write transaction, so no process reads half of them. Opened without a Derivation, the store
 * forgets the version it held: its writes keep no entries, and the next open with one derives them
 * all again.
 */
export async function ensureLookup(dbs: Dbs, log?: (message: string) => void): Promise<void> {
  const derivation = dbs.derivation;
  const held = dbs.root.get(LOOKUP_VERSION) as string | undefined;
  if (!derivation) {
    if (held !== undefined) await dbs.root.childTransaction(() => dbs.root.removeSync(LOOKUP_VERSION));
    return;
  }
  const version = versionOf(derivation);
  if (held === version) return;
  let derived = 0;
  await dbs.root.childTransaction(() => {
    // Another process may have derived them while this one waited for the write lock.
    if (dbs.root.get(LOOKUP_VERSION) === version) return;
    dbs.lookup.clearSync();
    for (const type of derivation.types) {
      for (const { value: record } of dbs.current.getRange(prefixRange(type))) {
        const given = entriesOf(derivation, record);
        for (const [key, { value }] of given) setEntry(dbs, key, record.type, record.id, value);
        if (given.size > 0) derived++;
      }
    }
    dbs.root.putSync(LOOKUP_VERSION, version);
  });
  if (derived > 0) log?.(`derived the lookup entries (${derivation.version}) of ${derived} records`);
}
