import { join } from 'node:path';
import { expect, it } from 'vitest';
import { buildRecord } from '../../src/interactions/records.js';
import { createSearchRegistry } from '../../src/search/registry.js';
import { createLmdbStore } from '../../src/store/lmdb/lmdb-store.js';
import { createMongoStore } from '../../src/store/mongo/mongo-store.js';
import type { Store } from '../../src/store/store.js';
import { describeEngines, startServer, type TestServer } from '../harness.js';
import { actor, consent, doc } from './world.js';

/**
 * The access facts of a request about a patient are read from the store's lookup table
 * (src/access/lookup.ts). A store written by a version that kept no table (an earlier layout, or
 * opened without it meanwhile) must have it derived again before the server answers: a mask the
 * table lacked would show the masked document.
 */
describeEngines('access: a store written without the lookup table is served as the rules say', (engine) => {
  it('a mask and an authorization written by a store that kept no table hold once the server opens it', async () => {
    const first = await startServer(engine);
    const system = await first.token({ scope: 'system/*.cruds' });
    const post = async (s: TestServer, body: Record<string, unknown>) => {
      const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token: system, body });
      expect(res.status, res.text.slice(0, 300)).toBe(201);
      return res.body.id as string;
    };
    const pro = await post(first, { resourceType: 'Practitioner', name: [{ family: 'Lefèvre' }] });
    const x = await post(first, { resourceType: 'Patient', birthDate: '1975-05-05' });
    const kept = await post(first, doc(x));
    const masked = await post(first, doc(x));
    await first.app.close();

    // Written as a version without the table would: the store opened without a Derivation.
    const store: Store =
      engine === 'lmdb'
        ? await createLmdbStore({ path: join(first.dataDir, 'store') })
        : await createMongoStore({ uri: process.env.MONGODB_URI!, db: first.db! });
    const ctx = { now: () => new Date(), registry: createSearchRegistry(), baseUrl: first.baseUrl };
    const write = (id: string, provision: Record<string, unknown>) =>
      store.commit([{ record: buildRecord(consent(x, provision) as never, 'Consent', id, undefined, ctx), expect: { kind: 'absent' } }]);
    await write('permit', { type: 'permit', actor: [actor(`Practitioner/${pro}`)] });
    await write('mask', { type: 'deny', data: [{ meaning: 'instance', reference: { reference: `DocumentReference/${masked}` } }] });
    await store.close();

    const second = await startServer(engine, {}, undefined, { dataDir: first.dataDir, db: first.db });
    try {
      const token = await second.token({ fhirUser: `Practitioner/${pro}`, scope: 'user/*.rs' });
      const found = await second.request({ method: 'GET', url: `/fhir/DocumentReference?patient=${x}`, token });
      expect(found.status).toBe(200);
      expect((found.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id)).toEqual([kept]);
      expect((await second.request({ method: 'GET', url: `/fhir/DocumentReference/${masked}`, token })).status).toBe(404);
      expect((await second.request({ method: 'GET', url: `/fhir/DocumentReference/${kept}`, token })).status).toBe(200);
    } finally {
      await second.close();
    }
  });
});
