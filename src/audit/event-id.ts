import { randomBytes } from 'node:crypto';

/** Unique to this process: processes writing to the same store never make the same id. */
const PROCESS = randomBytes(6).toString('hex');
let lastMs = 0;
let count = 0;

/**
 * The id of a new AuditEvent: its time in milliseconds (base 36, 9 characters, in order until the
 * year 5188), a count within the millisecond, and this process's random part. Ids that follow one
 * another land next to each other in the store's indexes keyed by id (LMDB: one page written for
 * many events, where random ids each wrote their own). The time is no secret: `recorded` says it.
 */
export function eventId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    count = 0;
  }
  // A clock that went back keeps the last time: the order and uniqueness hold.
  return `${lastMs.toString(36).padStart(9, '0')}-${(count++).toString(36).padStart(4, '0')}-${PROCESS}`;
}
