import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportJob } from '../src/export/job.js';
import { describeEngines, startServer, type Engine, type TestServer } from './harness.js';

/**
 * Bulk Data export after the manifest: DELETE and expiry remove the files' bytes (and nothing that
 * shares them), every request about an export leaves an AuditEvent naming the patients it covers,
 * and a job the client made fail answers 4xx.
 */

const ASYNC = { prefer: 'respond-async', accept: 'application/fhir+json' };
const REQUEST_ID = 'urn:carnet:request-id';
const EXPORT_JOB = 'urn:carnet:bulk-export';
const path = (url: string) => url.replace('http://carnet.test', '');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const patient = (id: string, family = 'Martin') => ({ resourceType: 'Patient', id, name: [{ family }], birthDate: '1970-01-01' });
const observation = (id: string, p: string) => ({
  resourceType: 'Observation', id, status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: `Patient/${p}` },
  effectiveDateTime: '2026-03-01T09:00:00Z', valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

async function put(s: TestServer, token: string, resource: { resourceType: string; id: string }): Promise<void> {
  const res = await s.request({ method: 'PUT', url: `/fhir/${resource.resourceType}/${resource.id}`, token, body: resource });
  expect(res.status, res.text).toBeLessThan(300);
}

async function seed(s: TestServer, token: string): Promise<void> {
  for (const p of ['p1', 'p2', 'p3']) await put(s, token, patient(p));
  for (const p of ['p1', 'p2']) await put(s, token, observation(`o-${p}`, p));
}

/** Kicks off and polls until the job ends (bounded in count, not in time); the last answer and every poll's. */
async function run(s: TestServer, token: string, url: string) {
  const kick = await s.request({ method: 'GET', url, token, headers: ASYNC });
  expect(kick.status, kick.text).toBe(202);
  const status = path(kick.headers['content-location']);
  const polls = [];
  for (let i = 0; i < 2000; i++) {
    const res = await s.request({ method: 'GET', url: status, token });
    polls.push(res);
    if (res.status !== 202) return { kick, status, id: status.split('/').pop()!, last: res, polls };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the export did not finish');
}

async function jobState(s: TestServer, id: string): Promise<ExportJob | undefined> {
  const entries = await s.app.store.listState('export:', { limit: 1000 });
  return entries.map((e) => e.value as ExportJob).find((j) => j.id === id);
}

describeEngines('Bulk Data export: files removed, traffic audited, client failures told', (engine: Engine) => {
  describe('DELETE and expiry remove the bytes', () => {
    let s: TestServer;
    let token: string;
    let offset = 0;
    beforeAll(async () => {
      s = await startServer(engine, { CARNET_AUDIT: 'off', CARNET_EXPORT_KEEP: '3600' }, () => new Date(Date.now() + offset));
      token = await s.token({ scope: 'system/*.cruds' });
      await seed(s, token);
    });
    afterAll(async () => s?.close());

    it("DELETE removes the files' blobs; another export of the same data and a Binary of the same bytes keep theirs", async () => {
      const first = await run(s, token, '/fhir/$export?_type=Patient,Observation');
      const second = await run(s, token, '/fhir/$export?_type=Patient,Observation');
      expect(first.last.status).toBe(200);
      const file = first.last.body.output.find((o: any) => o.type === 'Patient');
      const text = (await s.request({ method: 'GET', url: path(file.url), token })).text;
      expect(text.trimEnd().split('\n').map((l) => JSON.parse(l).id)).toEqual(['p1', 'p2', 'p3']);
      // The same bytes as a Binary: stored by content, apart from the export's own blob.
      const binary = await s.request({ method: 'POST', url: '/fhir/Binary', token, body: { resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from(text).toString('base64') } });
      expect(binary.status, binary.text).toBe(201);
      expect(await s.app.store.statBlob(sha256(text))).toBeDefined();

      const blobs = (await jobState(s, first.id))!.output.map((f) => f.blob);
      expect(blobs).toHaveLength(2);
      for (const blob of blobs) expect(await s.app.store.statBlob(blob)).toBeDefined();
      expect((await s.request({ method: 'DELETE', url: first.status, token })).status).toBe(202);
      for (const blob of blobs) expect(await s.app.store.statBlob(blob)).toBeUndefined();
      expect(await jobState(s, first.id)).toBeUndefined();
      expect((await s.request({ method: 'GET', url: path(file.url), token })).status).toBe(404);
      expect((await s.request({ method: 'GET', url: first.status, token })).status).toBe(404);

      const bytes = await s.request({ method: 'GET', url: `/fhir/Binary/${binary.body.id}`, token });
      expect(bytes.status).toBe(200);
      expect(bytes.text).toBe(text);
      const again = second.last.body.output.find((o: any) => o.type === 'Patient');
      expect((await s.request({ method: 'GET', url: path(again.url), token })).text).toBe(text);
    });

    it('a finished job is removed with its files CARNET_EXPORT_KEEP after it finished, and says when in Expires', async () => {
      const done = await run(s, token, '/fhir/$export?_type=Patient');
      const expires = Date.parse(done.last.headers.expires);
      expect(expires).toBeGreaterThan(Date.now() + offset + 3500_000);
      const blobs = (await jobState(s, done.id))!.output.map((f) => f.blob);
      await s.app.scheduler.runNow('export-expire');
      expect((await s.request({ method: 'GET', url: done.status, token })).status).toBe(200);
      offset += 3601_000;
      expect((await s.app.scheduler.runNow('export-expire')).ran).toBe(true);
      expect((await s.request({ method: 'GET', url: done.status, token })).status).toBe(404);
      expect(await jobState(s, done.id)).toBeUndefined();
      for (const blob of blobs) expect(await s.app.store.statBlob(blob)).toBeUndefined();
    });

    it('a removal a crash interrupted (the job marked cancelled, its files still there) is finished by the expiry job', async () => {
      const done = await run(s, token, '/fhir/$export?_type=Patient');
      const [entry] = (await s.app.store.listState('export:', { limit: 1000 })).filter((e) => (e.value as ExportJob).id === done.id);
      const job = entry!.value as ExportJob;
      expect(await s.app.store.putState(entry!.key, { ...job, status: 'cancelled' }, entry!.rev)).toBe(true);
      expect((await s.request({ method: 'GET', url: done.status, token })).status).toBe(404);
      expect((await s.app.scheduler.runNow('export-expire')).result).toBe(1);
      expect(await jobState(s, done.id)).toBeUndefined();
      for (const file of job.output) expect(await s.app.store.statBlob(file.blob)).toBeUndefined();
    });
  });

  describe('audit of the export traffic', () => {
    let s: TestServer;
    let token: string;
    beforeAll(async () => {
      s = await startServer(engine);
      token = await s.token({ scope: 'system/*.cruds' });
      await seed(s, token);
      await put(s, token, { resourceType: 'Group', id: 'g', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/p2' } }] } as any);
    });
    afterAll(async () => s?.close());

    const eventsOf = async (res: { headers: Record<string, any> }): Promise<any[]> => {
      const found = await s.request({ method: 'GET', url: `/fhir/AuditEvent?entity:identifier=${encodeURIComponent(`${REQUEST_ID}|${res.headers['x-request-id']}`)}`, token });
      expect(found.status, found.text.slice(0, 300)).toBe(200);
      return (found.body.entry ?? []).map((e: any) => e.resource);
    };
    const patientsOf = (e: any): string[] => (e.entity ?? []).filter((x: any) => x.role?.code === '1').map((x: any) => x.what.reference).sort();
    const jobOf = (e: any): any => (e.entity ?? []).find((x: any) => x.what?.identifier?.system === EXPORT_JOB);

    it("a patient's export: kick-off, every poll, the download and the delete each leave an event naming the patient, which they read in their history", async () => {
      const me = await s.token({ fhirUser: 'Patient/p1', scope: 'patient/*.rs', patient: 'p1' });
      const job = await run(s, me, '/fhir/Patient/$export');
      expect(job.last.status).toBe(200);
      const download = await s.request({ method: 'GET', url: path(job.last.body.output[0].url), token: me });
      expect(download.status).toBe(200);
      const del = await s.request({ method: 'DELETE', url: job.status, token: me });
      expect(del.status).toBe(202);

      for (const res of [job.kick, ...job.polls, download, del]) {
        const events = await eventsOf(res);
        expect(events, res.headers['x-request-id']).toHaveLength(1);
        expect(events[0].subtype[0].code).toBe('operation');
        expect(jobOf(events[0]).what.identifier.value).toBe(job.id);
        expect(events[0].agent.find((a: any) => a.requestor).who.reference).toBe('Patient/p1');
      }
      for (const res of [job.kick, job.last, download, del]) expect(patientsOf((await eventsOf(res))[0])).toEqual(['Patient/p1']);
      expect(jobOf((await eventsOf(download))[0]).description).toMatch(/^file 0 downloaded/);

      const history = await s.request({ method: 'GET', url: '/fhir/AuditEvent?patient=Patient/p1&_count=200', token: me });
      expect(history.status).toBe(200);
      const ofJob = history.body.entry.map((e: any) => e.resource).filter((e: any) => jobOf(e)?.what.identifier.value === job.id);
      expect(ofJob.map((e: any) => jobOf(e).description)).toEqual(expect.arrayContaining([
        expect.stringMatching(/^patient-level export started/),
        expect.stringMatching(/^status: complete/),
        expect.stringMatching(/^file 0 downloaded/),
        expect.stringMatching(/^deleted with its files/),
      ]));
      // A poll of what is gone is audited too, as a failure.
      const gone = await s.request({ method: 'GET', url: job.status, token: me });
      expect(gone.status).toBe(404);
      expect((await eventsOf(gone))[0].outcome).toBe('4');
    });

    it("a Group's export names its members; a system export of everything names no one", async () => {
      const group = await run(s, token, '/fhir/Group/g/$export');
      expect(group.last.status).toBe(200);
      for (const res of [group.kick, group.last]) expect(patientsOf((await eventsOf(res))[0])).toEqual(['Patient/p2']);
      const download = await s.request({ method: 'GET', url: path(group.last.body.output[0].url), token });
      expect(patientsOf((await eventsOf(download))[0])).toEqual(['Patient/p2']);

      const all = await run(s, token, '/fhir/$export?_type=Patient');
      const event = (await eventsOf(all.last))[0];
      expect(patientsOf(event)).toEqual([]);
      expect(jobOf(event).description).toMatch(/covers every patient/);
    });
  });

  describe('a job the client made fail', () => {
    let s: TestServer;
    let token: string;
    beforeAll(async () => {
      // A budget of 2 records for the searches of one request, and of one export's _typeFilter sub-queries.
      s = await startServer(engine, { CARNET_AUDIT: 'off', CARNET_SEARCH_BUDGET: '2' });
      token = await s.token({ scope: 'system/*.cruds' });
      await seed(s, token);
    });
    afterAll(async () => s?.close());

    it('answers 400 too-costly with an OperationOutcome on its status URL when a _typeFilter chain examines past the search budget', async () => {
      // The chain reads the 3 Patients named Martin: past the budget of 2.
      const filter = encodeURIComponent('Observation?subject:Patient.name=martin');
      const job = await run(s, token, `/fhir/$export?_type=Observation&_typeFilter=${filter}`);
      expect(job.last.status, job.last.text).toBe(400);
      expect(job.last.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect(job.last.body.resourceType).toBe('OperationOutcome');
      expect(job.last.body.issue[0].code).toBe('too-costly');
      expect((await jobState(s, job.id))!.output).toEqual([]);
      // The client may then delete it like any other.
      expect((await s.request({ method: 'DELETE', url: job.status, token })).status).toBe(202);
    });
  });
});
