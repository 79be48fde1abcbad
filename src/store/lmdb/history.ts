import type { HistoryQuery, VersionRecord } from '../store.js';
import type { Dbs } from './dbs.js';
import { readVersion, versionsOf } from './derived.js';
import { AFTER, type Key } from './keys.js';

export interface HistoryPage {
  records: VersionRecord[];
  total: number;
}

/** Newest first: lastUpdated descending, then versionId descending. Synchronous: one snapshot. */
export function history(dbs: Dbs, query: HistoryQuery): HistoryPage {
  if (query.type !== undefined && query.id !== undefined) return instanceHistory(dbs, query, query.type, query.id);

  // The history indexes hold [(type,) lastUpdated, ...]: since and at bound a key range.
  const prefix = query.type === undefined ? [] : [query.type];
  const low: Key | undefined = query.since === undefined ? (prefix.length ? prefix : undefined) : [...prefix, query.since];
  const high: Key = query.at === undefined ? [...prefix, AFTER] : [...prefix, query.at, AFTER];
  const index = query.type === undefined ? dbs.systemHistory : dbs.typeHistory;

  const total = index.getKeysCount({ start: low, end: high });
  if (query.limit <= 0 || query.offset >= total) return { records: [], total };
  const records: VersionRecord[] = [];
  for (const key of index.getKeys({ start: high, end: low, reverse: true, offset: query.offset, limit: query.limit })) {
    const [type, id, versionId] =
      query.type === undefined ? [key[1], key[2], key[3]] : [query.type, key[2], key[3]];
    const record = readVersion(dbs, type as string, id as string, versionId as number);
    if (record) records.push(record);
  }
  return { records, total };
}

function instanceHistory(dbs: Dbs, query: HistoryQuery, type: string, id: string): HistoryPage {
  const all: VersionRecord[] = [];
  for (const value of versionsOf(dbs, type, id)) {
    if (query.since !== undefined && value.lastUpdated < query.since) continue;
    if (query.at !== undefined && value.lastUpdated > query.at) continue;
    all.push(value);
  }
  all.sort((a, b) =>
    a.lastUpdated === b.lastUpdated ? b.versionId - a.versionId : a.lastUpdated < b.lastUpdated ? 1 : -1,
  );
  const records = query.limit <= 0 ? [] : all.slice(query.offset, query.offset + query.limit);
  return { records, total: all.length };
}
