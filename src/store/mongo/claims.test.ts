import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { rec, T } from '../conformance/fixtures.js';
import type { Store, Write } from '../store.js';
import { claimKey, STALE_CLAIM_MS, type ClaimDoc } from './claims.js';
import { createMongoStore } from './mongo-store.js';

const uri = process.env.MONGODB_URI;

if (!uri) {
  describe.skip('MongoDB claims tests skipped: MONGODB_URI is not set (CI sets it to a FerretDB server)', () => {
    it('claims', () => {});
  });
} else {
  describe('MongoDB engine: claims on the criteria of conditional writes', () => {
    const admin = new MongoClient(uri);
    const names: string[] = [];
    const stores: Store[] = [];
    afterAll(async () => {
      for (const s of stores) await s.close();
      for (const name of names) await admin.db(name).dropDatabase();
      await admin.close();
    });
    const open = async () => {
      const name = `carnet_test_claims_${randomBytes(4).toString('hex')}`;
      names.push(name);
      const store = await createMongoStore({ uri, db: name });
      stores.push(store);
      return { store, claims: admin.db(name).collection<ClaimDoc>('claims') };
    };
    const criteria = (value: string): NonNullable<Write['unlessFound']> => ({ types: ['Patient'], filter: { idx: { $elemMatch: { p: 'identifier', c: value } } } });
    const create = (id: string, value: string): Write => ({
      record: rec('Patient', id, 1, T(1), { idx: [{ p: 'identifier', c: value }] }),
      expect: { kind: 'absent' },
      unlessFound: criteria(value),
    });

    it('leaves no claim behind, whether the commit lands or conflicts', async () => {
      const { store, claims } = await open();
      await store.commit([create('a', 'X')]);
      await expect(store.commit([create('b', 'X')])).rejects.toMatchObject({ name: 'StoreConflict', id: 'b' });
      expect(await claims.countDocuments()).toBe(0);
    });

    it('takes over a claim a stopped process left behind, once stale', async () => {
      const { store, claims } = await open();
      await claims.insertOne({ _id: claimKey(criteria('Y')), token: 'crashed', at: new Date(Date.now() - STALE_CLAIM_MS - 1000) });
      await store.commit([create('c', 'Y')]);
      expect((await store.read('Patient', 'c'))?.versionId).toBe(1);
      expect(await claims.countDocuments()).toBe(0);
    });

    it('waits for a live claim to be released, then conflicts so that the caller looks again', async () => {
      const { store, claims } = await open();
      const key = claimKey(criteria('Z'));
      await claims.insertOne({ _id: key, token: 'live', at: new Date() });
      let released = false;
      setTimeout(() => void claims.deleteOne({ _id: key }).then(() => (released = true)), 150);
      await expect(store.commit([create('d', 'Z')])).rejects.toMatchObject({ name: 'StoreConflict', id: 'd' });
      // It gave up only once the holder was done, not at once.
      expect(released).toBe(true);
      expect(await store.read('Patient', 'd')).toBeUndefined();
      // Released: the next attempt lands.
      await store.commit([create('d', 'Z')]);
      expect((await store.read('Patient', 'd'))?.versionId).toBe(1);
    });
  });
}
