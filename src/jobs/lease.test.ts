import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLmdbStore } from '../store/lmdb/lmdb-store.js';
import type { Store } from '../store/store.js';
import { acquireLease } from './lease.js';

describe('lease', () => {
  let dir: string;
  let store: Store;
  let clock = 0;
  const opts = { ttlMs: 1000, now: () => new Date(clock) };
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'carnet-lease-'));
    store = await createLmdbStore({ path: dir });
    clock = 1_000_000;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is held by one holder at a time until it expires', async () => {
    const a = await acquireLease(store, 'run', 'a', opts);
    expect(a).toBeDefined();
    expect(await acquireLease(store, 'run', 'b', opts)).toBeUndefined();
    clock += 999;
    expect(await acquireLease(store, 'run', 'b', opts)).toBeUndefined();
    clock += 2;
    const b = await acquireLease(store, 'run', 'b', opts);
    expect(b).toBeDefined();
    // a's lease expired and was taken: a learns it when it renews.
    expect(await a!.renew()).toBe(false);
    expect(await b!.renew()).toBe(true);
  });

  it('renewal keeps it; release frees it at once', async () => {
    const a = (await acquireLease(store, 'run', 'a', opts))!;
    clock += 800;
    expect(await a.renew()).toBe(true);
    clock += 800;
    expect(await acquireLease(store, 'run', 'b', opts)).toBeUndefined();
    await a.release();
    expect(await acquireLease(store, 'run', 'b', opts)).toBeDefined();
  });

  it('of concurrent takers of a free lease exactly one gets it', async () => {
    const got = await Promise.all(['a', 'b', 'c', 'd'].map((h) => acquireLease(store, 'run', h, opts)));
    expect(got.filter(Boolean)).toHaveLength(1);
  });
});
