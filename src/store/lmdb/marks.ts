import type { CurrentRecord } from '../store.js';

/**
 * A new value for a change mark (Store.readMarks): a random integer below 2^52. A mark is only ever
 * compared for equality, so a value drawn afresh moves it without reading the old one (one chance in
 * 2^52 of drawing the value it had): a write that reads nothing first (append.ts) can move marks too,
 * in any process. A number, as the counters of earlier versions were: one of them opening the store
 * afterwards goes on adding one to it.
 */
export function newMark(): number {
  return Math.floor(Math.random() * 2 ** 52);
}

/** The marks a write of `record` moves (its type, and each compartment it leaves or enters). */
export function marksOf(record: CurrentRecord, previous?: CurrentRecord): string[] {
  return [`type:${record.type}`, ...new Set([...(previous?.comp ?? []), ...record.comp].map((comp) => `comp:${comp}`))];
}
