import { beforeAll, expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from './harness.js';

/**
 * 5,000 resources on the embedded engine. On FerretDB (the MongoDB engine's CI server), which
 * evaluates every query by reading the whole collection in process and is shared by the other
 * suites, loading and paging 5,000 resources took over ten minutes, and 1,000 took 15 (300 s to
 * load at about 3 creates a second, 574 s to page, on this shared 2-core VM); there the record has
 * 250 resources: the same paths (several pages of each stream, writes between them), smaller.
 */
const sizeOf = (engine: string) => (engine === 'lmdb' ? 5000 : 250);
const PRACTITIONERS = 20;

/**
 * One patient's record of 5,000 resources (the Patient, 4,979 Observations, and the 20
 * Practitioners they refer to), paged while other requests write: new Observations of the patient,
 * updates of Observations already given and not given yet, a new Practitioner referred to by a new
 * Observation. Every resource of the record is given once, nothing created after the first page,
 * and the last page is not empty, at the largest page size (of which the record is a multiple,
 * the case where a server that does not look ahead answers an empty last page) and at another.
 */
describeEngines('Patient/$everything of a large record (5,000 resources; 250 on FerretDB) under concurrent writes', (engine) => {
  const SIZE = sizeOf(engine);
  /** The largest page (CARNET_MAX_COUNT): the record is a multiple of it, so the last page is full. */
  const MAX_COUNT = SIZE / 5;
  let s: TestServer;
  let token: string;
  useServer(engine, (server, t) => {
    s = server;
    token = t;
  }, { CARNET_AUDIT: 'off', CARNET_MAX_COUNT: String(sizeOf(engine) / 5) });

  const record: string[] = [];
  let patient = '';
  let observations: string[] = [];
  beforeAll(async () => {
    const created = async (entries: Record<string, unknown>[]): Promise<string[]> => {
      const res = await s.request({ method: 'POST', url: '/fhir', token, body: { resourceType: 'Bundle', type: 'transaction', entry: entries.map((resource) => ({ resource, request: { method: 'POST', url: resource.resourceType } })) } });
      expect(res.status, res.text.slice(0, 300)).toBe(200);
      return res.body.entry.map((e: any) => e.response.location.split('/_history')[0].replace(`${s.baseUrl}/`, ''));
    };
    const practitioners = await created(Array.from({ length: PRACTITIONERS }, (_, i) => ({ resourceType: 'Practitioner', name: [{ family: `Dr ${i}` }] })));
    [patient] = await created([{ resourceType: 'Patient', name: [{ family: 'Grand' }] }]);
    const count = SIZE - PRACTITIONERS - 1;
    for (let from = 0; from < count; from += 1000) {
      const batch = Array.from({ length: Math.min(1000, count - from) }, (_, i) => ({
        resourceType: 'Observation', status: 'final', code: { text: `mesure ${from + i}` },
        subject: { reference: patient }, performer: [{ reference: practitioners[(from + i) % PRACTITIONERS] }],
      }));
      observations.push(...(await created(batch)));
    }
    record.push(patient, ...practitioners, ...observations);
    expect(new Set(record).size).toBe(SIZE);
  }, 600_000);

  it('gives every resource once with writes between pages, at the largest page and at a smaller one', async () => {
    for (const count of [MAX_COUNT, Math.round(MAX_COUNT * 0.7)]) {
      // What the first page pins: the record as it stands, with what an earlier pass added.
      const expected = [...record];
      const seen: string[] = [];
      let pages = 0;
      let next: string | undefined = `/fhir/${patient}/$everything?_count=${count}`;
      while (next) {
        const res = await s.request({ method: 'GET', url: next, token });
        expect(res.status, res.text.slice(0, 300)).toBe(200);
        const entries = res.body.entry ?? [];
        expect(entries.length).toBeGreaterThan(0);
        pages++;
        for (const e of entries) seen.push(`${e.resource.resourceType}/${e.resource.id}`);
        const link = res.body.link.find((l: any) => l.relation === 'next')?.url;
        next = link?.slice(s.baseUrl.length - '/fhir'.length);
        if (!next) break;
        // Writes between pages: a new Observation and a new Practitioner it refers to, an update of
        // an Observation given already and of one not given yet (both stay in place).
        const doctor = await s.request({ method: 'POST', url: '/fhir/Practitioner', token, body: { resourceType: 'Practitioner', name: [{ family: 'Nouveau' }] } });
        expect(doctor.status).toBe(201);
        const added = await s.request({ method: 'POST', url: '/fhir/Observation', token, body: { resourceType: 'Observation', status: 'final', code: { text: 'ajout' }, subject: { reference: patient }, performer: [{ reference: `Practitioner/${doctor.body.id}` }] } });
        expect(added.status).toBe(201);
        record.push(`Practitioner/${doctor.body.id}`, `Observation/${added.body.id}`);
        for (const ref of [seen[seen.length - 1], observations[observations.length - 1 - pages]]) {
          if (!ref.startsWith('Observation/')) continue;
          const current = (await s.request({ method: 'GET', url: `/fhir/${ref}`, token })).body;
          const put = await s.request({ method: 'PUT', url: `/fhir/${ref}`, token, body: { ...current, status: 'amended' } });
          expect(put.status).toBe(200);
        }
      }
      expect(pages, `_count=${count}`).toBe(Math.ceil(expected.length / count));
      expect(seen.length, `_count=${count}`).toBe(expected.length);
      expect(new Set(seen).size).toBe(expected.length);
      expect([...seen].sort()).toEqual(expected.sort());
    }
  }, 600_000);
});
