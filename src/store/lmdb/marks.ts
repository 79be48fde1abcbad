import { randomBytes } from 'node:crypto';
import type { CurrentRecord } from '../store.js';

/** Unique to this process: two processes writing one store never set the same mark value. */
const PROCESS = randomBytes(6).toString('hex');
let count = 0;

/**
 * A new value for a change mark (Store.readMarks). A mark is only ever compared for equality, so
 * a value never used before moves it without reading the old one: a write that reads nothing
 * first (append.ts) can move marks too. Stores written by earlier versions hold counters; the next
 * write replaces them.
 */
export function newMark(): string {
  return `${PROCESS}-${(count++).toString(36)}`;
}

/** The marks a write of `record` moves (its type, and each compartment it leaves or enters). */
export function marksOf(record: CurrentRecord, previous?: CurrentRecord): string[] {
  return [`type:${record.type}`, ...new Set([...(previous?.comp ?? []), ...record.comp].map((comp) => `comp:${comp}`))];
}
