import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLmdbStore, type LmdbStore } from '../store/lmdb/lmdb-store.js';
import { headKey } from './chain.js';
import { createHeadKeeper } from './heads.js';

describe('the heads of the chains', () => {
  let store: LmdbStore | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('never move back when commits on their way together land out of order', async () => {
    dir = await mkdtemp(join(tmpdir(), 'carnet-heads-'));
    const s = (store = await createLmdbStore({ path: dir }));
    const heads = createHeadKeeper(s, 60_000);
    const key = headKey('Patient/p1', 'c1');
    heads.moved(new Map([[key, { seq: 6, hash: 'h6' }]]));
    heads.moved(new Map([[key, { seq: 5, hash: 'h5' }]]));
    await heads.flush();
    expect((await s.getState(key))?.value).toEqual({ seq: 6, hash: 'h6' });
    heads.moved(new Map([[key, { seq: 4, hash: 'h4' }]]));
    heads.moved(new Map([[key, { seq: 7, hash: 'h7' }]]));
    await heads.close();
    expect((await s.getState(key))?.value).toEqual({ seq: 7, hash: 'h7' });
  });
});
