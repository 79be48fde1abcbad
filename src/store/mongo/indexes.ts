import { MongoServerError, type Collection, type Document, type IndexDescription } from 'mongodb';
import type { Collections } from './documents.js';

/** Search index entry fields indexed beside `idx.p` (see ../index-entry.md). */
const INDEXED_ENTRY_FIELDS = ['c', 'v', 'r', 'st', 'u'] as const;

export const RESOURCE_INDEXES: IndexDescription[] = [
  { key: { type: 1, comp: 1, lastUpdated: -1 } },
  { key: { type: 1, lastUpdated: -1 } },
  // A professional's search across patients: what they wrote, beside their patients' compartments.
  { key: { type: 1, by: 1 } },
  ...INDEXED_ENTRY_FIELDS.map((f): IndexDescription => ({ key: { type: 1, 'idx.p': 1, [`idx.${f}`]: 1 } })),
  { key: { type: 1, id: 1 } },
  // Store.lookup: the keys a Derivation gives (lookup.ts). Sparse: most documents have none (FerretDB v1
  // takes the option and builds a whole index, which answers the same).
  { key: { look: 1 }, sparse: true },
];

export const VERSION_INDEXES: IndexDescription[] = [
  { key: { type: 1, id: 1, versionId: -1 } },
  { key: { lastUpdated: -1 } },
  { key: { type: 1, lastUpdated: -1 } },
];

export async function ensureIndexes(c: Collections): Promise<void> {
  await createMissing(c.resources, RESOURCE_INDEXES);
  await createMissing(c.versions, VERSION_INDEXES);
}

/**
 * Creates only the indexes not there yet: asking FerretDB v1.24 to create a batch of existing
 * indexes crashes its connection handler ("slice bounds out of range"), where MongoDB would do nothing.
 */
async function createMissing<T extends Document>(collection: Collection<T>, wanted: IndexDescription[]): Promise<void> {
  const existing = await collection
    .listIndexes()
    .toArray()
    .catch((err: unknown) => {
      if (err instanceof MongoServerError && err.code === NAMESPACE_NOT_FOUND) return [];
      throw err;
    });
  const have = new Set(existing.map((index) => JSON.stringify(index.key)));
  const missing = wanted.filter((index) => !have.has(JSON.stringify(index.key)));
  if (missing.length > 0) await collection.createIndexes(missing);
}

const NAMESPACE_NOT_FOUND = 26;
