import type { ClientSession } from 'mongodb';
import {
  currentKey,
  fromCommitted,
  toCurrentDoc,
  versionKey,
  type Collections,
  type CommitInfo,
  type CurrentDoc,
  type VersionDoc,
} from './documents.js';
import { isDuplicateKey } from './errors.js';

/**
 * Without transactions a commit writes each version (which decides who made it) before the
 * current record, so a crash in between leaves the current record behind its history. Repair rolls
 * it forward, on the next read or commit of that resource, from the data the version holds.
 *
 * Only versions written longer ago than this are rolled forward: a younger one belongs to a commit
 * that may still be running and may yet undo it by compensation, which a concurrent roll-forward
 * would race. The writers' clocks are compared, so this also absorbs their skew.
 */
export const ROLL_FORWARD_AFTER_MS = 60_000;

export async function readDoc(c: Collections, type: string, id: string, session?: ClientSession): Promise<CurrentDoc | undefined> {
  return (await c.resources.findOne({ _id: currentKey(type, id) }, { session })) ?? undefined;
}

type Committed = VersionDoc & { commit: CommitInfo };

/**
 * The current document, rolled forward first if a crashed commit left it behind its history.
 * Commits number versions from the current one, so a crash leaves the next version, or the
 * current one rewritten (expectation `any`): both are looked up by _id, the one filter that
 * FerretDB v1 does not answer by decoding every document.
 */
export async function readRepaired(c: Collections, type: string, id: string): Promise<CurrentDoc | undefined> {
  const stored = await readDoc(c, type, id);
  const at = stored?.versionId ?? 0;
  const keys = [versionKey(type, id, at + 1), ...(stored ? [versionKey(type, id, at)] : [])];
  const heads = await Promise.all(
    keys.map((key) => c.versions.findOne({ _id: key }, { projection: { 'commit.token': 1, 'commit.at': 1 } })),
  );
  const before = Date.now() - ROLL_FORWARD_AFTER_MS;
  const behind = heads.find((v) => v?.commit && v.commit.token !== stored?.tok && v.commit.at.getTime() < before);
  if (!behind) return stored;
  const version = await c.versions.findOne({ _id: behind._id });
  if (!version?.commit) return stored;
  await rollForward(c, version as Committed, stored);
  return readDoc(c, type, id);
}

async function rollForward(c: Collections, version: Committed, stored: CurrentDoc | undefined): Promise<void> {
  const doc = toCurrentDoc(fromCommitted(version), version.commit.token, c.derivation);
  try {
    // Guarded by what was read: a concurrent repair or commit that moved first wins.
    if (stored) await c.resources.replaceOne({ _id: doc._id, tok: stored.tok }, doc);
    else await c.resources.insertOne(doc);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}
