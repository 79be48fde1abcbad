import { currentKey, type Collections } from './documents.js';

/** Removes resources with all their versions; their index entries live in their documents. */
export async function erase(c: Collections, resources: Array<{ type: string; id: string }>): Promise<number> {
  const byType = new Map<string, string[]>();
  for (const { type, id } of resources) byType.set(type, [...(byType.get(type) ?? []), id]);
  let erased = 0;
  for (const [type, ids] of byType) {
    // Current documents first: a crash in between leaves only versions, which history still lists,
    // so whoever erases by reading history (the retention job) finds and erases them again.
    erased += (await c.resources.deleteMany({ _id: { $in: ids.map((id) => currentKey(type, id)) } })).deletedCount;
    await c.versions.deleteMany({ type, id: { $in: ids } });
  }
  return erased;
}
