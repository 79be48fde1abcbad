import { StoreConflict, type CurrentRecord, type Store } from './store.js';

/**
 * Store.append through commit(): all in one commit, or, when one of them exists already, each in
 * its own (the engines whose commit costs nothing that append could spare).
 */
export async function appendByCommit(commit: Store['commit'], records: CurrentRecord[]): Promise<number> {
  const absent = (record: CurrentRecord) => ({ record, expect: { kind: 'absent' as const } });
  const leftOut = (e: unknown) => {
    if (e instanceof StoreConflict) return 0;
    throw e;
  };
  if (records.length === 0) return 0;
  try {
    await commit(records.map(absent));
    return records.length;
  } catch (e) {
    if (records.length === 1) return leftOut(e);
    leftOut(e);
  }
  const each = await Promise.all(records.map((record) => commit([absent(record)]).then(() => 1, leftOut)));
  return each.reduce((a, b) => a + b, 0);
}
