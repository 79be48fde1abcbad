import { createHash } from 'node:crypto';

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

/** LMDB's largest key in bytes (lmdb-js's build): a longer key fails the write. */
export const MAX_KEY_BYTES = 1978;

/**
 * The bytes of a key in lmdb's ordered-binary encoding (held to lmdb's encoder by keys.test.ts):
 * a string is its UTF-8, after an escape byte when it is empty or starts below U+001C; in a string
 * of fewer than 64 code units, U+0001 to U+0004 take two bytes; elements are joined by one byte.
 */
export function keySize(key: Key): number {
  let size = key.length - 1;
  for (const part of key) {
    if (typeof part === 'number') size += 9;
    else if (part instanceof Uint8Array) size += part.length;
    else {
      size += Buffer.byteLength(part) + (!(part.charCodeAt(0) >= 28) ? 1 : 0);
      if (part.length < 64) for (let i = 0; i < part.length; i++) if (part.charCodeAt(i) <= 4) size++;
    }
  }
  return size;
}

/** Whether LMDB takes the key; counted exactly only past a bound of 3 bytes per code unit (most keys are short). */
export function fitsKey(key: Key): boolean {
  let bound = key.length;
  for (let i = 0; i < key.length; i++) {
    const part = key[i];
    bound += typeof part === 'string' ? 3 * part.length + 1 : 9;
  }
  return bound <= MAX_KEY_BYTES || keySize(key) <= MAX_KEY_BYTES;
}

/** The longest start of `value` that takes at most `bytes` bytes of UTF-8, cut between code points. */
export function utf8Start(value: string, bytes: number): string {
  let used = 0;
  let i = 0;
  while (i < value.length) {
    const c = value.codePointAt(i)!;
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (used + n > bytes) break;
    used += n;
    i += c >= 0x10000 ? 2 : 1;
  }
  return value.slice(0, i);
}

/**
 * How much of a value too long for a key the key keeps, in UTF-8 bytes, followed by a separator
 * and the SHA-256 of the whole value: every key under LMDB's limit for index parameters and
 * compartments of reasonable length, yet long enough for a string search's prefix to read a range.
 */
export const KEPT_BYTES = 1024;
/** What a prefix of at most this many bytes finds in a range read, in long values' keys too. */
export const PREFIX_BYTES = KEPT_BYTES - 3;

export function longValue(value: string): string {
  return `${utf8Start(value, KEPT_BYTES)}\u001f${createHash('sha256').update(value).digest('base64url')}`;
}
