import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rec, T } from '../conformance/fixtures.js';
import type { CurrentRecord } from '../store.js';
import { keySize, MAX_KEY_BYTES, PREFIX_BYTES } from './keys.js';
import { openDbs } from './dbs.js';
import { createLmdbStore, type LmdbStore } from './lmdb-store.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'carnet-terms-'));
  dirs.push(dir);
  return dir;
}
const openStore = async (path?: string): Promise<LmdbStore> => createLmdbStore({ path: path ?? (await tempDir()) });

const SYSTEM = 'urn:test';
const doc = (id: string, code: string, family = 'x'): CurrentRecord =>
  rec('DocumentReference', id, 1, T(1), {
    comp: ['Patient/p1'],
    idx: [
      { p: 'type', s: SYSTEM, c: code },
      { p: 'family', v: family },
    ],
  });

async function find(store: LmdbStore, filter: Record<string, unknown>): Promise<{ ids: string[]; examined: number }> {
  const before = store.stats.examined;
  const { records } = await store.search({ types: ['DocumentReference'], filter, sort: [], offset: 0, limit: 100, count: false });
  return { ids: records.map((r) => r.id), examined: store.stats.examined - before };
}

describe('lmdb term keys of long values', () => {
  it('hold a value that fits beside a short id as it is, and beside a long id in its long form: a search finds both', async () => {
    const path = await tempDir();
    const store = await openStore(path);
    const short = 'a';
    const long = 'b'.repeat(64);
    // The longest code whose term key fits beside a one-character id.
    let code = '';
    while (keySize(['DocumentReference', 'type', 'sc', `${SYSTEM}|${code}x`, short]) <= MAX_KEY_BYTES) code += 'x';
    expect(keySize(['DocumentReference', 'type', 'sc', `${SYSTEM}|${code}`, long])).toBeGreaterThan(MAX_KEY_BYTES);
    await store.commit([doc(short, code), doc(long, code), doc('c', code.slice(1))].map((record) => ({ record, expect: { kind: 'absent' } })));
    expect(await find(store, { idx: { $elemMatch: { p: 'type', s: SYSTEM, c: code } } })).toEqual({ ids: [short, long], examined: 2 });
    expect(await find(store, { comp: 'Patient/p1', idx: { $elemMatch: { p: 'type', s: SYSTEM, c: code } } })).toEqual({ ids: [short, long], examined: 2 });
    expect(await find(store, { idx: { $elemMatch: { p: 'type', c: code } } })).toEqual({ ids: [short, long], examined: 2 });
    await store.close();
    // The key that fits is the one earlier versions wrote: a store of theirs needs no rebuild.
    const dbs = openDbs(path);
    expect(dbs.terms.doesExist(['DocumentReference', 'type', 'sc', `${SYSTEM}|${code}`, short])).toBe(true);
    expect(dbs.terms.doesExist(['DocumentReference', 'type', 'sc', `${SYSTEM}|${code}`, long])).toBe(false);
    await dbs.root.close();
  });

  it('answer a string prefix longer than a long key keeps by checking what its start finds', async () => {
    const store = await openStore();
    const start = 'n'.repeat(PREFIX_BYTES);
    await store.commit([doc('a', 'c', `${start}abc${'z'.repeat(2000)}`), doc('b', 'c', `${start}abd${'z'.repeat(2000)}`), doc('c', 'c', `${start}ab`)].map((record) => ({ record, expect: { kind: 'absent' } })));
    expect((await find(store, { idx: { $elemMatch: { p: 'family', v: { $regex: `^${start}abc` } } } })).ids).toEqual(['a']);
    expect((await find(store, { idx: { $elemMatch: { p: 'family', v: { $regex: `^${start}ab` } } } })).ids).toEqual(['a', 'b', 'c']);
    expect((await find(store, { idx: { $elemMatch: { p: 'family', v: { $regex: `^${start.slice(1)}` } } } })).ids).toEqual(['a', 'b', 'c']);
    await store.close();
  });
});
