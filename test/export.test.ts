import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, consent } from './access/world.js';
import { describeEngines, startServer, type Engine, type TestServer } from './harness.js';

/** Bulk Data export (FHIR Bulk Data Access 2.0) through HTTP: kick-off, status, manifest, files, delete. */

const ASYNC = { prefer: 'respond-async', accept: 'application/fhir+json' };
const path = (url: string) => url.replace('http://carnet.test', '');
const patient = (id: string, family = 'Martin') => ({ resourceType: 'Patient', id, name: [{ family }], birthDate: '1970-01-01' });
const observation = (id: string, p: string, code = '8867-4') => ({
  resourceType: 'Observation', id, status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${p}` }, effectiveDateTime: '2026-03-01T09:00:00Z',
  valueQuantity: code === '29463-7' ? { value: 72.0, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } : { value: 72.0, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

async function put(s: TestServer, token: string, resource: { resourceType: string; id: string }): Promise<void> {
  const res = await s.request({ method: 'PUT', url: `/fhir/${resource.resourceType}/${resource.id}`, token, body: resource });
  expect(res.status, res.text).toBeLessThan(300);
}

async function kickOff(s: TestServer, token: string, url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  return s.request({ method: init.method ?? 'GET', url, token, body: init.body, headers: { ...ASYNC, ...init.headers } });
}

/** Polls the status URL until the manifest (bounded in count, not in time). */
async function manifestOf(s: TestServer, token: string, status: string): Promise<any> {
  for (let i = 0; i < 2000; i++) {
    const res = await s.request({ method: 'GET', url: path(status), token });
    if (res.status === 200) return res.body;
    expect(res.status, res.text).toBe(202);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the export did not finish');
}

async function exportAll(s: TestServer, token: string, url: string, init?: Parameters<typeof kickOff>[3]): Promise<{ manifest: any; resources: any[] }> {
  const res = await kickOff(s, token, url, init);
  expect(res.status, res.text).toBe(202);
  const manifest = await manifestOf(s, token, res.headers['content-location']);
  const resources: any[] = [];
  for (const file of manifest.output) {
    const got = await s.request({ method: 'GET', url: path(file.url), token, headers: { accept: 'application/fhir+ndjson' } });
    expect(got.status).toBe(200);
    const lines = got.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines).toHaveLength(file.count);
    for (const r of lines) expect(r.resourceType).toBe(file.type);
    resources.push(...lines);
  }
  return { manifest, resources };
}

const refs = (resources: any[]) => resources.map((r) => `${r.resourceType}/${r.id}`).sort();

function seed(engine: Engine, env: Record<string, string>, body: (get: () => { s: TestServer; token: string }) => void) {
  let s: TestServer;
  let token: string;
  beforeAll(async () => {
    s = await startServer(engine, { CARNET_AUDIT: 'off', ...env });
    token = await s.token({ scope: 'system/*.cruds' });
    for (const p of ['p1', 'p2']) await put(s, token, patient(p));
    for (let i = 0; i < 3; i++) await put(s, token, observation(`o1-${i}`, 'p1'));
    // Sent as text: a decimal keeps its precision (72.0) in the export too.
    const text = JSON.stringify(observation('o1-0', 'p1')).replace('"value":72', '"value":72.0');
    const res = await s.request({ method: 'PUT', url: '/fhir/Observation/o1-0', token, body: text, headers: { 'content-type': 'application/fhir+json' } });
    expect(res.status).toBe(200);
    await put(s, token, observation('o2-0', 'p2', '29463-7'));
    await put(s, token, { resourceType: 'Practitioner', id: 'dr', name: [{ family: 'House' }] } as any);
  });
  afterAll(async () => s?.close());
  body(() => ({ s, token }));
}

describeEngines('Bulk Data export', (engine) => {
  seed(engine, {}, (get) => {
    it('runs the whole flow: kick-off, manifest, NDJSON files, delete', async () => {
      const { s, token } = get();
      const kick = await kickOff(s, token, '/fhir/$export');
      expect(kick.status).toBe(202);
      expect(kick.headers['content-location']).toMatch(/^http:\/\/carnet\.test\/fhir\/\$export-status\/[0-9a-f-]{36}$/);
      const status = kick.headers['content-location'];
      const manifest = await manifestOf(s, token, status);
      expect(manifest).toMatchObject({ request: 'http://carnet.test/fhir/$export', requiresAccessToken: true, deleted: [], error: [] });
      expect(Date.parse(manifest.transactionTime)).not.toBeNaN();
      const byType = Object.fromEntries(manifest.output.map((o: any) => [o.type, o.count]));
      expect(byType).toEqual({ Patient: 2, Observation: 4, Practitioner: 1 });

      const file = manifest.output.find((o: any) => o.type === 'Observation');
      const got = await s.request({ method: 'GET', url: path(file.url), token });
      expect(got.headers['content-type']).toBe('application/fhir+ndjson');
      const lines = got.text.trimEnd().split('\n');
      expect(lines.map((l) => JSON.parse(l).id)).toEqual(['o1-0', 'o1-1', 'o1-2', 'o2-0']);
      // Decimals as they were sent.
      expect(lines[0]).toContain('"value":72.0');

      const del = await s.request({ method: 'DELETE', url: path(status), token });
      expect(del.status).toBe(202);
      expect((await s.request({ method: 'GET', url: path(status), token })).status).toBe(404);
      expect((await s.request({ method: 'GET', url: path(file.url), token })).status).toBe(404);
      expect((await s.request({ method: 'DELETE', url: path(status), token })).status).toBe(404);
    });

    it('takes its parameters from a POST Parameters body, with any of the three NDJSON format names', async () => {
      const { s, token } = get();
      for (const format of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
        const { manifest } = await exportAll(s, token, '/fhir/$export', {
          method: 'POST',
          body: { resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Patient' }, { name: '_outputFormat', valueString: format }] },
        });
        expect(manifest.request).toBe('http://carnet.test/fhir/$export');
        expect(manifest.output.map((o: any) => o.type)).toEqual(['Patient']);
      }
    });

    it('_type changes the output', async () => {
      const { s, token } = get();
      const typed = await exportAll(s, token, '/fhir/$export?_type=Observation,Practitioner');
      expect(refs(typed.resources)).toEqual(['Observation/o1-0', 'Observation/o1-1', 'Observation/o1-2', 'Observation/o2-0', 'Practitioner/dr']);
    });

    it('_typeFilter changes the output', async () => {
      const { s, token } = get();

      // Filters of one type are alternatives; a type without a filter is exported whole.
      const filter = encodeURIComponent('Observation?code=http://loinc.org|29463-7');
      const filtered = await exportAll(s, token, `/fhir/$export?_type=Observation,Patient&_typeFilter=${filter}`);
      expect(refs(filtered.resources)).toEqual(['Observation/o2-0', 'Patient/p1', 'Patient/p2']);
      const either = await exportAll(s, token, `/fhir/$export?_type=Observation&_typeFilter=${filter},${encodeURIComponent('Observation?subject=Patient/p1&_id=o1-1')}`);
      expect(refs(either.resources)).toEqual(['Observation/o1-1', 'Observation/o2-0']);
    });

    it('_elements changes the output', async () => {
      const { s, token } = get();

      const slim = await exportAll(s, token, '/fhir/$export?_type=Patient,Observation&_elements=Patient.birthDate,subject');
      const p1 = slim.resources.find((r) => r.id === 'p1');
      expect(p1.birthDate).toBe('1970-01-01');
      expect(p1.name).toBeUndefined();
      expect(p1.meta.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
      const o = slim.resources.find((r) => r.id === 'o1-0');
      // Mandatory elements stay (status, code); others go.
      expect(Object.keys(o).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'subject']);
    });

    it('_since changes the output and lists what was deleted since', async () => {
      const { s, token } = get();

      const before = (await exportAll(s, token, '/fhir/$export?_type=Patient')).manifest.transactionTime;
      await put(s, token, patient('p2', 'Durand'));
      expect((await s.request({ method: 'DELETE', url: '/fhir/Practitioner/dr', token })).status).toBeLessThan(300);
      const since = await exportAll(s, token, `/fhir/$export?_type=Patient,Practitioner,Observation&_since=${encodeURIComponent(before)}`);
      expect(refs(since.resources)).toEqual(['Patient/p2']);
      expect(since.resources[0].name[0].family).toBe('Durand');
      // What was deleted since: transaction Bundles of DELETE entries, in files of their own.
      expect(since.manifest.deleted).toEqual([expect.objectContaining({ type: 'Bundle', count: 1 })]);
      const deleted = await s.request({ method: 'GET', url: path(since.manifest.deleted[0].url), token });
      expect(JSON.parse(deleted.text.trim())).toEqual({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: 'Practitioner/dr' } }] });
      expect((await exportAll(s, token, '/fhir/$export?_type=Practitioner')).manifest.deleted).toEqual([]);
    });

    it('refuses bad kick-offs with a 4xx OperationOutcome and starts nothing', async () => {
      const { s, token } = get();
      const bad: Array<[string, Record<string, string>?]> = [
        ['/fhir/$export', { prefer: 'respond-sync' }],
        ['/fhir/$export?_outputFormat=application/fhir+json'],
        ['/fhir/$export?_type=Banana'],
        ['/fhir/$export?_since=yesterday'],
        ['/fhir/$export?_typeFilter=Observation'],
        ['/fhir/$export?_typeFilter=Observation%3Fnope%3D1'],
        ['/fhir/$export?_typeFilter=Observation%3F_count%3D1'],
        ['/fhir/$export?_type=Patient&_typeFilter=Observation%3Fcode%3D1'],
        ['/fhir/$export?_elements=a.b.c'],
        ['/fhir/$export?includeAssociatedData=LatestProvenanceResources'],
        ['/fhir/$export?_unknown=1'],
        ['/fhir/Patient/$export?_type=Practitioner'],
        ['/fhir/Observation/$export'],
      ];
      for (const [url, headers] of bad) {
        const res = await s.request({ method: 'GET', url, token, headers: { ...ASYNC, ...headers } });
        expect(res.status, url).toBeGreaterThanOrEqual(400);
        expect(res.status, url).toBeLessThan(500);
        expect(res.body?.resourceType, url).toBe('OperationOutcome');
        expect(res.headers['content-location'], url).toBeUndefined();
      }
      const post = await kickOff(s, token, '/fhir/$export', { method: 'POST', body: { resourceType: 'Patient' } });
      expect(post.status).toBe(400);
    });

    it('keeps a client out of another client\'s export: its status and its files are not found', async () => {
      const { s, token } = get();
      const kick = await kickOff(s, token, '/fhir/$export?_type=Patient');
      const status = kick.headers['content-location'];
      const manifest = await manifestOf(s, token, status);
      const other = await s.token({ scope: 'system/*.cruds', sub: 'another-client' } as any);
      expect((await s.request({ method: 'GET', url: path(status), token: other })).status).toBe(404);
      expect((await s.request({ method: 'GET', url: path(manifest.output[0].url), token: other })).status).toBe(404);
      expect((await s.request({ method: 'DELETE', url: path(status), token: other })).status).toBe(404);
      expect((await s.request({ method: 'GET', url: path(manifest.output[0].url), token })).status).toBe(200);
    });

    it('a patient exports their own record only; the system level is for system clients', async () => {
      const { s } = get();
      const me = await s.token({ fhirUser: 'Patient/p1', scope: 'patient/*.rs', patient: 'p1' });
      expect((await kickOff(s, me, '/fhir/$export')).status).toBe(403);
      const { resources } = await exportAll(s, me, '/fhir/Patient/$export');
      expect(refs(resources)).toEqual(['Observation/o1-0', 'Observation/o1-1', 'Observation/o1-2', 'Patient/p1']);
    });

    it('a professional exports what the patients let them see: an authorizing patient\'s record, without what it masks', async () => {
      const { s, token } = get();
      const pro = 'Practitioner/pro';
      const made = await s.request({ method: 'POST', url: '/fhir/Consent', token, body: consent('p1', { type: 'permit', actor: [actor(pro)] }) });
      expect(made.status, made.text).toBe(201);
      const mask = consent('p1', { type: 'deny', actor: [actor(pro)], data: [{ meaning: 'instance', reference: { reference: 'Observation/o1-1' } }] });
      expect((await s.request({ method: 'POST', url: '/fhir/Consent', token, body: mask })).status).toBe(201);
      const proToken = await s.token({ fhirUser: pro, scope: 'user/*.rs' });
      const { resources } = await exportAll(s, proToken, '/fhir/Patient/$export?_type=Patient,Observation');
      expect(refs(resources)).toEqual(['Observation/o1-0', 'Observation/o1-2', 'Patient/p1']);
    });

    it('exports a Group\'s members; a Group is seen by system clients and its writers, not by its members', async () => {
      const { s, token } = get();
      await put(s, token, { resourceType: 'Group', id: 'g', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/p2' } }] } as any);
      const { manifest, resources } = await exportAll(s, token, '/fhir/Group/g/$export');
      expect(manifest.request).toBe('http://carnet.test/fhir/Group/g/$export');
      expect(refs(resources)).toEqual(['Observation/o2-0', 'Patient/p2']);
      const member = await s.token({ fhirUser: 'Patient/p2', scope: 'patient/*.cruds', patient: 'p2' });
      expect((await s.request({ method: 'GET', url: '/fhir/Group/g', token: member })).status).toBe(404);
      expect((await kickOff(s, member, '/fhir/Group/g/$export')).status).toBe(404);
      const write = await s.request({ method: 'POST', url: '/fhir/Group', token: member, body: { resourceType: 'Group', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/p2' } }] } });
      expect(write.status).toBe(403);
      expect((await s.request({ method: 'GET', url: '/fhir/Group', token })).body.total).toBe(1);
      // Group's search parameters are served.
      expect((await s.request({ method: 'GET', url: '/fhir/Group?member=Patient/p2', token })).body.total).toBe(1);
      expect((await s.request({ method: 'GET', url: '/fhir/Group?member=Patient/p1', token })).body.total).toBe(0);
      expect((await kickOff(s, token, '/fhir/Group/nope/$export')).status).toBe(404);
    });

    it('the CapabilityStatement and the SMART configuration announce the export', async () => {
      const { s } = get();
      const cs = (await s.request({ method: 'GET', url: '/fhir/metadata' })).body;
      expect(cs.instantiates).toContain('http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data');
      expect(cs.rest[0].operation).toContainEqual({ name: 'export', definition: 'urn:carnet:OperationDefinition/export' });
      for (const type of ['Patient', 'Group']) expect(cs.rest[0].resource.find((r: any) => r.type === type).operation).toContainEqual({ name: 'export', definition: 'urn:carnet:OperationDefinition/export' });
      const smart = (await s.request({ method: 'GET', url: '/.well-known/smart-configuration' })).body;
      expect(smart.bulk_data_export).toEqual(['http://carnet.test/fhir/$export', 'http://carnet.test/fhir/Patient/$export', 'http://carnet.test/fhir/Group/[id]/$export']);
    });
  });

  describe('jobs held midway', () => {
    let s: TestServer;
    let token: string;
    let release: () => void = () => undefined;
    let held = new Promise<void>((r) => (release = r));
    let filesLetThrough = 0;
    beforeAll(async () => {
      s = await startServer(engine, { CARNET_AUDIT: 'off', CARNET_EXPORT_FILE_BYTES: '1', CARNET_EXPORT_MAX_JOBS: '2' }, undefined, {
        exportHooks: {
          // Lets `filesLetThrough` files through, then holds every job until released or stopped.
          beforeFile: async (_job, signal) => {
            if (filesLetThrough > 0) {
              filesLetThrough--;
              return;
            }
            await new Promise<void>((resolve, reject) => {
              held.then(resolve);
              signal.addEventListener('abort', () => reject(signal.reason));
            });
          },
        },
      });
      token = await s.token({ scope: 'system/*.cruds' });
      for (let i = 0; i < 8; i++) await put(s, token, patient(`p${String(i).padStart(2, '0')}`));
    });
    afterAll(async () => s?.close());

    it('holds a client to its limit of running jobs when its kick-offs race', async () => {
      const kicks = await Promise.all(Array.from({ length: 5 }, () => kickOff(s, token, '/fhir/$export?_type=Patient')));
      expect(kicks.every((k) => k.status === 202 || k.status === 429)).toBe(true);
      const accepted = kicks.filter((k) => k.status === 202);
      expect(accepted.length).toBeLessThanOrEqual(2);
      for (const k of accepted) expect((await s.request({ method: 'DELETE', url: path(k.headers['content-location']), token })).status).toBe(202);
    });

    it('reports progress while running and refuses a client past its limit of running jobs', async () => {
      const first = await kickOff(s, token, '/fhir/$export?_type=Patient');
      const second = await kickOff(s, token, '/fhir/Patient/$export?_type=Patient');
      expect([first.status, second.status]).toEqual([202, 202]);
      const third = await kickOff(s, token, '/fhir/$export');
      expect(third.status).toBe(429);
      expect(third.body.resourceType).toBe('OperationOutcome');
      const other = await s.token({ scope: 'system/*.cruds', sub: 'another-client' } as any);
      const theirs = await kickOff(s, other, '/fhir/$export?_type=Practitioner');
      expect(theirs.status).toBe(202);

      const polled = await s.request({ method: 'GET', url: path(first.headers['content-location']), token });
      expect(polled.status).toBe(202);
      expect(polled.headers['x-progress']).toMatch(/exporting Patient/);
      expect(Number(polled.headers['retry-after'])).toBeGreaterThan(0);

      // Cancelling a running job frees its place.
      expect((await s.request({ method: 'DELETE', url: path(second.headers['content-location']), token })).status).toBe(202);
      expect((await s.request({ method: 'GET', url: path(second.headers['content-location']), token })).status).toBe(404);
      release();
      const manifest = await manifestOf(s, token, first.headers['content-location']);
      // One resource per file: the files split past CARNET_EXPORT_FILE_BYTES.
      expect(manifest.output).toHaveLength(8);
      expect(manifest.output.every((o: any) => o.count === 1 && o.type === 'Patient')).toBe(true);
      await manifestOf(s, other, theirs.headers['content-location']);
      held = new Promise<void>((r) => (release = r));
    });

    it('survives a restart: a job held midway is taken up by the new process and each resource is exported once', async () => {
      filesLetThrough = 3;
      const kick = await kickOff(s, token, '/fhir/$export?_type=Patient');
      const status = kick.headers['content-location'];
      for (let i = 0; i < 2000; i++) {
        const res = await s.request({ method: 'GET', url: path(status), token });
        if (/^3 resources in 3 files/.test(res.headers['x-progress'] ?? '')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await s.request({ method: 'GET', url: path(status), token })).headers['x-progress']).toMatch(/^3 resources in 3 files/);
      s = await s.restart();
      const manifest = await manifestOf(s, token, status);
      expect(manifest.output).toHaveLength(8);
      const ids: string[] = [];
      for (const file of manifest.output) ids.push(...(await s.request({ method: 'GET', url: path(file.url), token })).text.split('\n').filter(Boolean).map((l) => JSON.parse(l).id));
      expect(ids).toEqual(Array.from({ length: 8 }, (_, i) => `p${String(i).padStart(2, '0')}`));
    });
  });
});
