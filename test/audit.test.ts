import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, startServer, type TestServer } from './harness.js';

const ROLE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const REQUEST_ID = 'urn:carnet:request-id';
const DAY = 86_400_000;

function doc(patient: string, description: string): Record<string, unknown> {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    description,
    type: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
    subject: { reference: `Patient/${patient}` },
    date: new Date(Date.now() - 60 * DAY).toISOString(),
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('compte rendu').toString('base64') } }],
  };
}

const subtype = (e: any): string => e.subtype?.[0]?.code;
const user = (e: any): any => e.agent.find((a: any) => a.requestor);
const entityRefs = (e: any): string[] => (e.entity ?? []).map((x: any) => x.what?.reference).filter(Boolean);

describeEngines('access history (AuditEvent)', (engine) => {
  let s: TestServer;
  let system: string;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};

  const post = async (body: Record<string, unknown>): Promise<string> => {
    const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token: system, body });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    return res.body.id;
  };
  /** The events recorded for one request, by the request id the answer carried. */
  const eventsOf = async (res: { headers: Record<string, any> }): Promise<any[]> => {
    const found = await s.request({ method: 'GET', url: `/fhir/AuditEvent?entity:identifier=${encodeURIComponent(`${REQUEST_ID}|${res.headers['x-request-id']}`)}`, token: system });
    expect(found.status, found.text.slice(0, 300)).toBe(200);
    return (found.body.entry ?? []).map((e: any) => e.resource);
  };
  const historyOf = async (patient: string, token: string) => {
    const res = await s.request({ method: 'GET', url: `/fhir/AuditEvent?patient=Patient/${patient}&_sort=-date&_count=200`, token });
    return { status: res.status, events: (res.body?.entry ?? []).map((e: any) => e.resource) as any[] };
  };

  beforeAll(async () => {
    s = await startServer(engine);
    system = await s.token({ scope: 'system/*.cruds' });
    ids.gp = await post({ resourceType: 'Practitioner', name: [{ given: ['Claire'], family: 'Dubois', prefix: ['Dr'] }] });
    ids.role = await post({ resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${ids.gp}` }, code: [{ text: 'Médecin généraliste' }] });
    ids.stranger = await post({ resourceType: 'Practitioner', name: [{ given: ['Marc'], family: 'Urgences' }] });
    ids.pA = await post({ resourceType: 'Patient', name: [{ family: 'Martin' }], birthDate: '1980-01-01', generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }] });
    ids.pB = await post({ resourceType: 'Patient', name: [{ family: 'Bernard' }], birthDate: '1981-01-01' });
    ids.pM = await post({ resourceType: 'Patient', name: [{ family: 'Petit' }], birthDate: new Date(Date.now() - 10 * 365 * DAY).toISOString().slice(0, 10), generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }] });
    ids.rep = await post({ resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${ids.pM}` }, relationship: [{ coding: [{ system: ROLE, code: 'MTH' }] }] });
    ids.dA = await post(doc(ids.pA, 'Compte rendu de consultation du 2 mars'));
    ids.dM = await post(doc(ids.pM, 'Certificat de vaccination'));
    tokens.gp = await s.token({ fhirUser: `Practitioner/${ids.gp}`, scope: 'user/*.cruds' });
    tokens.role = await s.token({ fhirUser: `PractitionerRole/${ids.role}`, scope: 'user/*.cruds' });
    tokens.stranger = await s.token({ fhirUser: `Practitioner/${ids.stranger}`, scope: 'user/*.rs' });
    tokens.btg = await s.token({ fhirUser: `Practitioner/${ids.stranger}`, scope: 'user/*.rs', patient: ids.pA, purpose_of_use: 'BTG' });
    tokens.pA = await s.token({ fhirUser: `Patient/${ids.pA}`, scope: 'patient/*.cruds', patient: ids.pA });
    tokens.pB = await s.token({ fhirUser: `Patient/${ids.pB}`, scope: 'patient/*.cruds', patient: ids.pB });
    tokens.rep = await s.token({ fhirUser: `RelatedPerson/${ids.rep}`, scope: 'user/*.cruds' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("the patient reads who read their record: the professional's name and role, the document's title", async () => {
    const read = await s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.dA}`, token: tokens.role });
    expect(read.status).toBe(200);
    const { status, events } = await historyOf(ids.pA, tokens.pA);
    expect(status).toBe(200);
    const e = events.find((x) => subtype(x) === 'read' && entityRefs(x).includes(`DocumentReference/${ids.dA}`));
    expect(e, JSON.stringify(events.map(subtype))).toBeDefined();
    expect(e.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(e.subtype[0]).toEqual({ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' });
    expect(e).toMatchObject({ action: 'R', outcome: '0', source: { observer: { display: 'carnet' } } });
    expect(user(e)).toMatchObject({ who: { reference: `PractitionerRole/${ids.role}`, display: 'Dr Claire Dubois' }, role: [{ text: 'Médecin généraliste' }], requestor: true });
    expect(user(e).purposeOfUse).toBeUndefined();
    expect(e.agent.find((a: any) => !a.requestor).who.display).toBe('carnet');
    const document = e.entity.find((x: any) => x.what?.reference === `DocumentReference/${ids.dA}`);
    expect(document).toMatchObject({ name: 'Compte rendu de consultation du 2 mars', description: 'Consult note' });
    expect(entityRefs(e)).toContain(`Patient/${ids.pA}`);
    expect(e.entity.some((x: any) => x.what?.identifier?.system === REQUEST_ID && x.what.identifier.value === read.headers['x-request-id'])).toBe(true);
    // Newest first: the read is the latest event that is not the patient's own.
    expect(events.filter((x) => user(x).who.reference !== `Patient/${ids.pA}`)[0].id).toBe(e.id);
  });

  it("another patient, a professional, a representative of someone else see nothing of it", async () => {
    const mine = await historyOf(ids.pA, tokens.pA);
    expect(mine.events.length).toBeGreaterThan(0);
    const one = mine.events[0].id;
    for (const token of [tokens.pB, tokens.gp, tokens.role, tokens.rep, tokens.btg]) {
      const { status, events } = await historyOf(ids.pA, token);
      expect([200, 403]).toContain(status);
      expect(events).toEqual([]);
      expect((await s.request({ method: 'GET', url: `/fhir/AuditEvent/${one}`, token })).status).toBe(404);
    }
    // The representative does see the minor's history.
    expect((await s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.dM}`, token: tokens.gp })).status).toBe(200);
    const minor = await historyOf(ids.pM, tokens.rep);
    expect(minor.events.some((x) => subtype(x) === 'read' && entityRefs(x).includes(`DocumentReference/${ids.dM}`))).toBe(true);
    expect(minor.events.every((x) => !entityRefs(x).includes(`Patient/${ids.pA}`) || entityRefs(x).includes(`Patient/${ids.pM}`))).toBe(true);
  });

  it('an emergency access is marked with purposeOfUse BTG', async () => {
    const read = await s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.dA}`, token: tokens.btg });
    expect(read.status).toBe(200);
    const [e] = await eventsOf(read);
    expect(user(e).who).toEqual({ reference: `Practitioner/${ids.stranger}`, display: 'Marc Urgences' });
    expect(user(e).purposeOfUse).toEqual([{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG', display: 'break the glass' }] }]);
    const { events } = await historyOf(ids.pA, tokens.pA);
    expect(events.map((x) => x.id)).toContain(e.id);
  });

  it('a read of a hidden resource answers as an absent one, and lands in the patient’s history', async () => {
    const hidden = await s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.dA}`, token: tokens.stranger });
    const absent = await s.request({ method: 'GET', url: '/fhir/DocumentReference/does-not-exist', token: tokens.stranger });
    expect(hidden.status).toBe(404);
    expect(hidden.text.replaceAll(ids.dA, 'X')).toBe(absent.text.replaceAll('does-not-exist', 'X'));
    const [e] = await eventsOf(hidden);
    expect(e).toMatchObject({ action: 'R', outcome: '4' });
    expect(entityRefs(e)).toEqual(expect.arrayContaining([`DocumentReference/${ids.dA}`, `Patient/${ids.pA}`]));
    const { events } = await historyOf(ids.pA, tokens.pA);
    expect(events.map((x) => x.id)).toContain(e.id);
    const [gone] = await eventsOf(absent);
    expect(gone).toMatchObject({ outcome: '4' });
    expect(entityRefs(gone)).toEqual(['DocumentReference/does-not-exist']);
  });

  it('a refusal of the scopes (403) is recorded too', async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Observation', token: tokens.stranger, body: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${ids.pA}` } } });
    expect(res.status).toBe(403);
    const events = await eventsOf(res);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'C', outcome: '4', subtype: [{ code: 'create' }] });
  });

  it('every interaction yields one event with its subtype and action', async () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'Tension' }, subject: { reference: `Patient/${ids.pB}` } };
    const one = async (method: string, url: string, body: unknown, code: string, action: string, extra: Record<string, string> = {}) => {
      const res = await s.request({ method, url, token: system, body, headers: extra });
      expect(res.status, `${method} ${url}: ${res.text.slice(0, 200)}`).toBeLessThan(300);
      const events = await eventsOf(res);
      expect(events.map(subtype), `${method} ${url}`).toEqual([code]);
      expect(events[0].action).toBe(action);
      expect(user(events[0]).who.display).toMatch(/^client:/);
      return { res, e: events[0] };
    };
    const { res: created, e: c } = await one('POST', '/fhir/Observation', obs, 'create', 'C');
    const id = created.body.id;
    expect(entityRefs(c)).toEqual(expect.arrayContaining([`Observation/${id}`, `Patient/${ids.pB}`]));
    await one('GET', `/fhir/Observation/${id}`, undefined, 'read', 'R');
    await one('PUT', `/fhir/Observation/${id}`, { ...obs, id, status: 'amended' }, 'update', 'U');
    await one('PATCH', `/fhir/Observation/${id}`, [{ op: 'replace', path: '/status', value: 'final' }], 'patch', 'U', { 'content-type': 'application/json-patch+json' });
    await one('GET', `/fhir/Observation/${id}/_history/1`, undefined, 'vread', 'R');
    await one('GET', `/fhir/Observation/${id}/_history`, undefined, 'history-instance', 'R');
    await one('GET', '/fhir/Observation/_history', undefined, 'history-type', 'R');
    const { e: found } = await one('GET', `/fhir/Observation?subject=Patient/${ids.pB}&code:text=Tension`, undefined, 'search-type', 'E');
    const query = found.entity.find((x: any) => x.query);
    expect(Buffer.from(query.query, 'base64').toString()).toBe(`subject=Patient%2F${ids.pB}&code%3Atext=Tension`);
    expect(query.type).toEqual({ system: 'http://hl7.org/fhir/resource-types', code: 'Observation' });
    expect(entityRefs(found)).toEqual(expect.arrayContaining([`Observation/${id}`, `Patient/${ids.pB}`]));
    await one('POST', '/fhir/Observation/$validate', obs, 'operation', 'E');
    await one('DELETE', `/fhir/Observation/${id}`, undefined, 'delete', 'D');

    const batch = await s.request({ method: 'POST', url: '/fhir', token: system, body: { resourceType: 'Bundle', type: 'batch', entry: [
      { request: { method: 'GET', url: `Patient/${ids.pB}` } },
      { request: { method: 'POST', url: 'Observation' }, resource: obs },
      { request: { method: 'GET', url: 'Patient/does-not-exist' } },
    ] } });
    expect(batch.status).toBe(200);
    const entries = await eventsOf(batch);
    expect(entries.map(subtype).sort()).toEqual(['create', 'read', 'read']);
    expect(entries.map((x) => x.outcome).sort()).toEqual(['0', '0', '4']);

    const tx = await s.request({ method: 'POST', url: '/fhir', token: system, body: { resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:1', request: { method: 'POST', url: 'Observation' }, resource: obs },
      { request: { method: 'GET', url: `Patient/${ids.pB}` } },
    ] } });
    expect(tx.status).toBe(200);
    const [t, ...more] = await eventsOf(tx);
    expect(more).toEqual([]);
    expect(subtype(t)).toBe('transaction');
    const createdInTx = tx.body.entry[0].response.location.replace(`${s.baseUrl}/`, '').split('/_history')[0];
    expect(entityRefs(t).sort()).toEqual([createdInTx, `Patient/${ids.pB}`].sort());
    expect(t.entity.find((x: any) => x.what?.reference === `Patient/${ids.pB}`)).toMatchObject({ role: { code: '1' }, name: 'Bernard' });

    const bin = await s.request({ method: 'POST', url: '/fhir/Binary', token: system, body: 'raw bytes', headers: { 'content-type': 'text/plain' } });
    expect(bin.status).toBe(201);
    const raw = await s.request({ method: 'GET', url: `/fhir/Binary/${bin.body?.id ?? bin.headers.location.split('/')[5]}`, token: system });
    expect(raw.text).toBe('raw bytes');
    expect((await eventsOf(raw)).map(subtype)).toEqual(['read']);
  });

  it("a long search's query is kept to its first 4096 characters, and says so", async () => {
    const res = await s.request({ method: 'POST', url: '/fhir/Observation/_search', token: system, body: `code:text=${'x'.repeat(5000)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    // Refused (a value too long), and recorded as a refused search.
    expect(res.status).toBe(400);
    const [e] = await eventsOf(res);
    expect(e).toMatchObject({ outcome: '4', subtype: [{ code: 'search-type' }] });
    const query = e.entity.find((x: any) => x.query);
    expect(Buffer.from(query.query, 'base64').toString()).toBe(`code%3Atext=${'x'.repeat(4096 - 'code%3Atext='.length)}`);
    expect(query.description).toBe('query truncated to its first 4096 characters');
  });

  it('a search is filed under the patients of its results', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/DocumentReference?type=http://loinc.org|11488-4', token: system });
    expect(res.body.total ?? res.body.entry.length).toBeGreaterThanOrEqual(2);
    const [e] = await eventsOf(res);
    expect(entityRefs(e)).toEqual(expect.arrayContaining([`Patient/${ids.pA}`, `Patient/${ids.pM}`, `DocumentReference/${ids.dA}`]));
    expect((await historyOf(ids.pA, tokens.pA)).events.map((x) => x.id)).toContain(e.id);
  });

  it('the events of concurrent requests share commits (group commit), each durable before its answer', async () => {
    const store = s.app.store;
    const commit = store.commit.bind(store);
    const append = store.append.bind(store);
    const read = store.read.bind(store);
    // The 30 reads are held once they have read, until all have, then let go together: the requests
    // then finish close together on any machine (on a loaded one they could finish one per turn of
    // the event loop, each event then written alone, and the test fail with the journal working;
    // held before the read, they still spread out as a loaded FerretDB answered the reads one by one,
    // seen once in session 14's CI).
    let held = 0;
    let letGo!: () => void;
    const together = new Promise<void>((resolve) => (letGo = resolve));
    store.read = async (type, id) => {
      const record = await read(type, id);
      if (type === 'Patient' && id === ids.pB && held < 30) {
        if (++held === 30) letGo();
        await Promise.race([together, new Promise((r) => setTimeout(r, 5000))]);
      }
      return record;
    };
    let commits = 0;
    let events = 0;
    const counted = (records: Array<{ type: string }>) => {
      const audit = records.filter((r) => r.type === 'AuditEvent').length;
      if (audit > 0) {
        commits++;
        events += audit;
      }
    };
    store.commit = async (writes) => {
      counted(writes.map((w) => w.record));
      return commit(writes);
    };
    store.append = async (records, opts) => {
      counted(records);
      return append(records, opts);
    };
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, () => s.request({ method: 'GET', url: `/fhir/Patient/${ids.pB}`, token: system })));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(held).toBe(30);
      expect(events).toBe(30);
      expect(commits).toBeLessThan(30);
    } finally {
      store.commit = commit;
      store.append = append;
      store.read = read;
    }
  });

  it('the events are valid R4 AuditEvents', async () => {
    const { events } = await historyOf(ids.pA, system);
    expect(events.length).toBeGreaterThan(3);
    for (const e of events.slice(0, 5)) {
      const { id: _id, meta: _meta, ...resource } = e;
      const res = await s.request({ method: 'POST', url: '/fhir/AuditEvent/$validate', token: system, body: resource });
      expect(res.status, res.text.slice(0, 500)).toBe(200);
    }
  });

  it("$verify checks a patient's hash chains, and finds an event changed behind the server's back", async () => {
    const verify = async (token = system) => s.request({ method: 'GET', url: `/fhir/AuditEvent/$verify?patient=Patient/${ids.pA}`, token });
    const param = (body: any, name: string) => body.parameter.find((p: any) => p.name === name);
    const good = await verify();
    expect(good.status, good.text.slice(0, 300)).toBe(200);
    expect(good.body.resourceType).toBe('Parameters');
    expect(param(good.body, 'result').valueBoolean).toBe(true);
    expect(param(good.body, 'checked').valueInteger).toBeGreaterThan(3);
    expect(param(good.body, 'break')).toBeUndefined();
    for (const token of [tokens.pA, tokens.gp]) expect((await verify(token)).status).toBe(403);

    const { events } = await historyOf(ids.pA, system);
    const victim = events.find((e) => user(e).who.reference === `Practitioner/${ids.stranger}`);
    const store = s.app.store;
    const record = (await store.read('AuditEvent', victim.id))!;
    const agents = record.resource!.agent as any[];
    const forged = { ...record, versionId: record.versionId + 1, resource: { ...record.resource!, outcome: '0', agent: [{ ...agents[0], who: { display: 'nobody' } }, agents[1]] } };
    await store.commit([{ record: forged, expect: { kind: 'version', versionId: record.versionId } }]);
    const bad = await verify();
    expect(param(bad.body, 'result').valueBoolean).toBe(false);
    expect(param(bad.body, 'break').part).toEqual([
      { name: 'event', valueReference: { reference: `AuditEvent/${victim.id}` } },
      { name: 'chain', valueString: expect.any(String) },
      { name: 'reason', valueString: 'its content does not match its hash' },
    ]);

    // An event removed from another patient's history: the next one says events are missing.
    const ofB = (await historyOf(ids.pB, system)).events;
    expect(ofB.length).toBeGreaterThan(2);
    const oldest = (await store.read('AuditEvent', ofB[ofB.length - 1].id))!;
    await store.commit([{ record: { type: 'AuditEvent', id: oldest.id, versionId: oldest.versionId + 1, lastUpdated: new Date().toISOString(), deleted: true, idx: [], comp: oldest.comp }, expect: { kind: 'version', versionId: oldest.versionId } }]);
    const gap = await s.request({ method: 'GET', url: `/fhir/AuditEvent/$verify?patient=${ids.pB}`, token: system });
    expect(param(gap.body, 'result').valueBoolean).toBe(false);
    expect(param(gap.body, 'break').part.find((p: any) => p.name === 'reason').valueString).toMatch(/^position \d+ where \d+ was expected: events are missing before it$/);
  });

  it('is append-only: no update, patch or delete for anyone; only system clients report events, tagged as reported', async () => {
    const { events } = await historyOf(ids.pA, system);
    const e = events[0];
    for (const [method, body, headers] of [
      ['PUT', { ...e, outcome: '0' }, {}],
      ['PATCH', [{ op: 'replace', path: '/outcome', value: '0' }], { 'content-type': 'application/json-patch+json' }],
      ['DELETE', undefined, {}],
    ] as const) {
      for (const token of [system, tokens.pA]) {
        const res = await s.request({ method, url: `/fhir/AuditEvent/${e.id}`, token, body, headers: { ...headers } });
        expect(res.status, `${method}: ${res.text.slice(0, 200)}`).toBe(405);
        expect(res.body.resourceType).toBe('OperationOutcome');
      }
    }
    const tx = await s.request({ method: 'POST', url: '/fhir', token: system, body: { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `AuditEvent/${e.id}` } }] } });
    expect(tx.status).toBe(405);
    const again = await s.request({ method: 'GET', url: `/fhir/AuditEvent/${e.id}`, token: system });
    expect(again.body).toEqual(e);

    const reported = { ...e, id: undefined, meta: undefined, outcomeDesc: 'reported by the lab system' };
    expect((await s.request({ method: 'POST', url: '/fhir/AuditEvent', token: tokens.pA, body: reported })).status).toBe(403);
    expect((await s.request({ method: 'POST', url: '/fhir/AuditEvent', token: tokens.gp, body: reported })).status).toBe(403);
    const ok = await s.request({ method: 'POST', url: '/fhir/AuditEvent', token: system, body: { ...reported, meta: { tag: [{ system: 'urn:carnet:audit-origin', code: 'recorded' }] } } });
    expect(ok.status, ok.text.slice(0, 300)).toBe(201);
    expect(ok.body.meta.tag).toEqual([{ system: 'urn:carnet:audit-origin', code: 'reported', display: 'Reported by an integration' }]);
    // Its own event: one create, not an event about the event's event.
    expect((await eventsOf(ok)).map(subtype)).toEqual(['create']);
  });
});
