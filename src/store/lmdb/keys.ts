/**
 * Key layout of the embedded engine. Keys are arrays of primitives in lmdb's ordered-binary
 * encoding: elements are joined by a 0 byte and strings never contain one, so a shorter array sorts
 * before every key it prefixes, and a trailing 0xff byte sorts after every key it prefixes (UTF-8
 * never produces 0xff).
 */
export const AFTER = new Uint8Array([0xff]);

export type Key = Array<string | number | Uint8Array>;

/** current: [type, id] -> CurrentRecord */
export const currentKey = (type: string, id: string): Key => [type, id];
/** versions: [type, id, versionId] -> VersionRecord */
export const versionKey = (type: string, id: string, versionId: number): Key => [type, id, versionId];
/** history-type: [type, lastUpdated, id, versionId] -> null */
export const typeHistoryKey = (type: string, lastUpdated: string, id: string, versionId: number): Key => [
  type,
  lastUpdated,
  id,
  versionId,
];
/** history-system: [lastUpdated, type, id, versionId] -> null */
export const systemHistoryKey = (lastUpdated: string, type: string, id: string, versionId: number): Key => [
  lastUpdated,
  type,
  id,
  versionId,
];
/** comp: [compartment, type, id] -> null, for current records that are not deleted */
export const compKey = (comp: string, type: string, id: string): Key => [comp, type, id];

/** Every key that starts with the given elements: [start, end). */
export function prefixRange(...prefix: Array<string | number>): { start: Key; end: Key } {
  return { start: prefix, end: [...prefix, AFTER] };
}
