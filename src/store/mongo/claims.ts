import { createHash, randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import { StoreConflict, type Write } from '../store.js';
import { isDuplicateKey } from './errors.js';

/** A claim on the criteria of a conditional write, held while the write is checked and committed. */
export interface ClaimDoc {
  /** SHA-256 of the criteria (types and filter). */
  _id: string;
  token: string;
  at: Date;
}

/** A claim older than this was left by a process that stopped mid-commit: another may take it. */
export const STALE_CLAIM_MS = 60_000;
/** How long a conflicting write waits for the claim's holder to finish before it re-plans anyway. */
const WAIT_MS = 5_000;

export const claimKey = (criteria: NonNullable<Write['unlessFound']>): string =>
  createHash('sha256')
    .update(criteria.claim !== undefined ? `claim:${criteria.claim}` : JSON.stringify({ types: criteria.types, filter: criteria.filter }))
    .digest('hex');

/**
 * Runs `commit` for writes whose criteria (Write.unlessFound) must still find nothing, the way
 * the server can arbitrate without multi-document transactions or locks: each criteria is first
 * claimed by inserting a document with a unique _id; only then is it searched, and the claim is
 * removed once the commit is done. Of two writes with the same criteria, the second either fails
 * to claim while the first holds it (a conflict: its caller re-plans and finds the first), or
 * claims after the first committed, and its search then finds the first's resource.
 * Writes exclude each other when their claims are the same: the criteria as the client gave them
 * (Write.unlessFound.claim), whoever asks, else identical types and filter.
 */
export async function withClaims(
  claims: Collection<ClaimDoc>,
  writes: Write[],
  found: (criteria: NonNullable<Write['unlessFound']>) => Promise<boolean>,
  commit: () => Promise<void>,
): Promise<void> {
  const guarded = writes.filter((w): w is Write & { unlessFound: NonNullable<Write['unlessFound']> } => w.unlessFound !== undefined);
  if (guarded.length === 0) return commit();
  const token = randomUUID();
  const held: string[] = [];
  try {
    for (const w of guarded) {
      const key = claimKey(w.unlessFound);
      if (held.includes(key)) continue;
      if (!(await claim(claims, key, token))) {
        // Held by a write in progress: once it is done, re-planning finds its resource.
        await released(claims, key);
        throw new StoreConflict(w.record.type, w.record.id, 0);
      }
      held.push(key);
    }
    for (const w of guarded) {
      if (await found(w.unlessFound)) throw new StoreConflict(w.record.type, w.record.id, 0);
    }
    await commit();
  } finally {
    if (held.length > 0) await claims.deleteMany({ _id: { $in: held }, token }).catch(() => undefined);
  }
}

async function claim(claims: Collection<ClaimDoc>, key: string, token: string): Promise<boolean> {
  try {
    await claims.insertOne({ _id: key, token, at: new Date() });
    return true;
  } catch (e) {
    if (!isDuplicateKey(e)) throw e;
  }
  const stale = new Date(Date.now() - STALE_CLAIM_MS);
  const taken = await claims.findOneAndUpdate({ _id: key, at: { $lt: stale } }, { $set: { token, at: new Date() } });
  return taken !== null;
}

/** Resolves once the claim is gone or stale, or after WAIT_MS. */
async function released(claims: Collection<ClaimDoc>, key: string): Promise<void> {
  const until = Date.now() + WAIT_MS;
  for (let delay = 2; Date.now() < until; delay = Math.min(delay * 2, 100)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    const held = await claims.findOne({ _id: key });
    if (!held || held.at.getTime() < Date.now() - STALE_CLAIM_MS) return;
  }
}
