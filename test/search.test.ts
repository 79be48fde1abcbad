import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, startServer, type TestServer } from './harness.js';

const INS = 'urn:oid:1.2.250.1.213.1.4.8';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

/** Client-chosen ids, so both engines must return the very same ids in the same order. */
const DATA = [
  { resourceType: 'Patient', id: 'p1', identifier: [{ system: INS, value: '280047512345678' }], name: [{ family: 'Dupont', given: ['Hélène'] }], gender: 'female', birthDate: '1980-04-02' },
  { resourceType: 'Patient', id: 'p2', name: [{ family: 'Martin', given: ['Jean'] }], gender: 'male', birthDate: '1975-11-20' },
  { resourceType: 'Patient', id: 'p3', name: [{ family: 'Dupond', given: ['Éloïse'] }], gender: 'female', birthDate: '2010-06-30' },
  { resourceType: 'Practitioner', id: 'pr1', name: [{ family: 'Lefèvre', given: ['Anne'] }] },
  { resourceType: 'Observation', id: 'o1', status: 'final', code: { coding: [{ system: LOINC, code: '29463-7', display: 'Body weight' }] }, subject: { reference: 'Patient/p1' }, effectiveDateTime: '2026-03-10T08:00:00Z', valueQuantity: { value: 72, unit: 'kg', system: UCUM, code: 'kg' } },
  { resourceType: 'Observation', id: 'o2', status: 'final', code: { coding: [{ system: LOINC, code: '29463-7' }] }, subject: { reference: 'Patient/p1' }, effectiveDateTime: '2026-04-15T08:00:00Z', valueQuantity: { value: 70500, unit: 'g', system: UCUM, code: 'g' } },
  { resourceType: 'Observation', id: 'o3', status: 'final', code: { coding: [{ system: LOINC, code: '2339-0', display: 'Glucose' }] }, subject: { reference: 'Patient/p2' }, effectiveDateTime: '2026-02-01', valueQuantity: { value: 5.4, unit: 'mmol/L', system: UCUM, code: 'mmol/L' } },
  { resourceType: 'DocumentReference', id: 'd1', status: 'current', type: { coding: [{ system: LOINC, code: '11502-2' }] }, subject: { reference: 'Patient/p1' }, date: '2026-03-12T10:00:00Z', author: [{ reference: 'Practitioner/pr1' }], content: [{ attachment: { contentType: 'application/pdf', url: 'http://carnet.test/fhir/Binary/b1' } }] },
  { resourceType: 'DocumentReference', id: 'd2', status: 'current', type: { coding: [{ system: LOINC, code: '18748-4' }] }, subject: { reference: 'Patient/p1' }, date: '2025-12-01T10:00:00Z', content: [{ attachment: { contentType: 'application/pdf', url: 'http://carnet.test/fhir/Binary/b2' } }] },
  { resourceType: 'DocumentReference', id: 'd3', status: 'current', type: { coding: [{ system: LOINC, code: '11502-2' }] }, subject: { reference: 'Patient/p2' }, date: '2026-03-20T10:00:00Z', content: [{ attachment: { contentType: 'application/pdf', url: 'http://carnet.test/fhir/Binary/b3' } }] },
];

describeEngines('search over HTTP', (engine) => {
  let s: TestServer;
  let token: string;
  const ids = async (url: string) => {
    const res = await s.request({ method: 'GET', url, token });
    expect(res.status, `${url}: ${res.text.slice(0, 300)}`).toBe(200);
    return res.body.entry?.filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource.id) ?? [];
  };
  beforeAll(async () => {
    s = await startServer(engine);
    token = await s.token({ scope: 'system/*.cruds' });
    // The documents' content: a DocumentReference may point only at a Binary that exists.
    const pdfs = ['b1', 'b2', 'b3'].map((id) => ({ resourceType: 'Binary', id, contentType: 'application/pdf', data: Buffer.from(`%PDF-1.4 ${id}`).toString('base64') }));
    const entry = [...pdfs, ...DATA].map((r) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } }));
    const res = await s.request({ method: 'POST', url: '/fhir', token, body: { resourceType: 'Bundle', type: 'transaction', entry } });
    expect(res.status).toBe(200);
  });
  afterAll(async () => s?.close());

  it('string: accent- and case-insensitive prefix, :exact, :contains', async () => {
    expect(await ids('/fhir/Patient?name=helene')).toEqual(['p1']);
    expect(await ids('/fhir/Patient?family=DUPON&_sort=family')).toEqual(['p3', 'p1']);
    expect(await ids('/fhir/Patient?family:exact=Dupont')).toEqual(['p1']);
    expect(await ids('/fhir/Patient?family:exact=dupont')).toEqual([]);
    expect(await ids('/fhir/Patient?given:contains=loi')).toEqual(['p3']);
  });

  it('token, date and sorting', async () => {
    expect(await ids(`/fhir/Patient?identifier=${encodeURIComponent(`${INS}|280047512345678`)}`)).toEqual(['p1']);
    expect(await ids('/fhir/Patient?gender=female&_sort=-birthdate')).toEqual(['p3', 'p1']);
    expect(await ids('/fhir/Patient?birthdate=1980-04')).toEqual(['p1']);
    expect(await ids('/fhir/Patient?birthdate=ge2000-01-01')).toEqual(['p3']);
    expect(await ids('/fhir/Patient?birthdate=lt1980&birthdate=gt1970')).toEqual(['p2']);
    expect(await ids(`/fhir/Observation?code=${LOINC}|29463-7&_sort=-date`)).toEqual(['o2', 'o1']);
    expect(await ids('/fhir/Observation?code:not=29463-7')).toEqual(['o3']);
  });

  it('quantity compares UCUM units after canonicalisation', async () => {
    expect(await ids(`/fhir/Observation?value-quantity=${encodeURIComponent(`ge71|${UCUM}|kg`)}`)).toEqual(['o1']);
    expect(await ids(`/fhir/Observation?value-quantity=${encodeURIComponent(`lt71000|${UCUM}|g`)}`)).toEqual(['o2']);
  });

  it('reference, patient-scoped document search, chaining and reverse chaining', async () => {
    expect(await ids(`/fhir/DocumentReference?patient=p1&type=${encodeURIComponent(`${LOINC}|11502-2`)}&date=ge2026-01-01`)).toEqual(['d1']);
    expect(await ids('/fhir/DocumentReference?subject=Patient/p1&_sort=date')).toEqual(['d2', 'd1']);
    expect(await ids('/fhir/DocumentReference?subject=http://carnet.test/fhir/Patient/p2')).toEqual(['d3']);
    expect(await ids('/fhir/DocumentReference?author:Practitioner.family=lefevre')).toEqual(['d1']);
    expect(await ids('/fhir/Observation?subject:Patient.name=martin')).toEqual(['o3']);
    expect(await ids('/fhir/Patient?_has:Observation:patient:code=29463-7')).toEqual(['p1']);
  });

  it('_include and _revinclude add the referenced resources as includes', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/DocumentReference?_id=d1&_include=DocumentReference:author', token });
    expect(res.body.entry.map((e: any) => [e.search.mode, e.resource.id])).toEqual([['match', 'd1'], ['include', 'pr1']]);
    const rev = await s.request({ method: 'GET', url: '/fhir/Patient?_id=p2&_revinclude=Observation:subject', token });
    expect(rev.body.entry.map((e: any) => [e.search.mode, e.resource.id])).toEqual([['match', 'p2'], ['include', 'o3']]);
  });

  it('compartment, system and POST _search', async () => {
    expect(await ids('/fhir/Patient/p1/Observation?_sort=date')).toEqual(['o1', 'o2']);
    expect(await ids('/fhir?_type=Patient,Practitioner&_id=p2,pr1&_sort=_id')).toEqual(['p2', 'pr1']);
    const form = await s.request({ method: 'POST', url: '/fhir/Patient/_search', token, body: 'family=martin', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.body.entry.map((e: any) => e.resource.id)).toEqual(['p2']);
    const json = await s.request({ method: 'POST', url: '/fhir/Patient/_search', token, body: { family: { $ne: 'x' } } });
    expect(json.status).toBe(415);
  });

  it('_summary, _elements, _total and paging links', async () => {
    const count = await s.request({ method: 'GET', url: '/fhir/Patient?_summary=count', token });
    expect(count.body.total).toBe(3);
    expect(count.body.entry ?? []).toEqual([]);
    const el = await s.request({ method: 'GET', url: '/fhir/Patient?_id=p1&_elements=gender', token });
    const p = el.body.entry[0].resource;
    expect(p.gender).toBe('female');
    expect(p.name).toBeUndefined();
    expect(p.meta.tag.map((t: any) => t.code)).toContain('SUBSETTED');
    const none = await s.request({ method: 'GET', url: '/fhir/Patient?_total=none', token });
    expect(none.body.total).toBeUndefined();
    const seen: string[] = [];
    let url: string | undefined = '/fhir/Patient?_count=1&_sort=_id';
    while (url) {
      const res = await s.request({ method: 'GET', url, token });
      seen.push(...res.body.entry.map((e: any) => e.resource.id));
      url = res.body.link.find((l: any) => l.relation === 'next')?.url.replace(s.baseUrl, '/fhir');
    }
    expect(seen).toEqual(['p1', 'p2', 'p3']);
  });

  it('pages neither repeat nor skip when resources are created, changed or deleted between pages', async () => {
    const names = ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo', 'Foxtrot', 'Golf'];
    for (const [i, name] of names.entries()) {
      await s.request({ method: 'PUT', url: `/fhir/Organization/org${i}`, token, body: { resourceType: 'Organization', id: `org${i}`, name, active: true } });
    }
    const follow = async (url: string) => (await s.request({ method: 'GET', url: url.replace(s.baseUrl, '/fhir'), token })).body;
    const first = await follow('/fhir/Organization?active=true&_sort=name&_count=3');
    expect(first.total).toBe(7);
    const seen = first.entry.map((e: any) => e.resource.name);
    // Between pages: the first one seen is deleted, an unseen one changes (not its sort key), a new one appears.
    await s.request({ method: 'DELETE', url: '/fhir/Organization/org0', token });
    await s.request({ method: 'PUT', url: '/fhir/Organization/org4', token, body: { resourceType: 'Organization', id: 'org4', name: 'Echo', active: true, telecom: [{ system: 'phone', value: '0102030405' }] } });
    await s.request({ method: 'PUT', url: '/fhir/Organization/org9', token, body: { resourceType: 'Organization', id: 'org9', name: 'Bis', active: true } });
    let page = first;
    const pages = [first];
    while (page.link.find((l: any) => l.relation === 'next')) {
      page = await follow(page.link.find((l: any) => l.relation === 'next').url);
      pages.push(page);
      seen.push(...page.entry.map((e: any) => e.resource.name));
    }
    expect(seen).toEqual(names);
    expect(pages[1].entry.find((e: any) => e.resource.id === 'org4').resource.telecom[0].value).toBe('0102030405');
    const back = await follow(pages[2].link.find((l: any) => l.relation === 'previous').url);
    expect(back.entry.map((e: any) => e.resource.name)).toEqual(['Delta', 'Echo', 'Foxtrot']);
    const backAgain = await follow(back.link.find((l: any) => l.relation === 'previous').url);
    expect(backAgain.entry.map((e: any) => e.resource.name)).toEqual(['Bravo', 'Charlie']);
    expect(backAgain.link.find((l: any) => l.relation === 'previous')).toBeUndefined();
  });

  it('unknown parameters: a warning under lenient handling, 400 under strict; malformed values 400', async () => {
    const lenient = await s.request({ method: 'GET', url: '/fhir/Patient?nickname=lulu&family=martin', token });
    expect(lenient.status).toBe(200);
    expect(lenient.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource.id)).toEqual(['p2']);
    expect(lenient.body.entry.find((e: any) => e.search.mode === 'outcome').resource.issue[0].severity).toBe('warning');
    const strict = await s.request({ method: 'GET', url: '/fhir/Patient?nickname=lulu', token, headers: { prefer: 'handling=strict' } });
    expect(strict.status).toBe(400);
    const badDate = await s.request({ method: 'GET', url: '/fhir/Patient?birthdate=xx2020', token });
    expect(badDate.status).toBe(400);
    expect(JSON.stringify(badDate.body)).toContain('birthdate');
    expect((await s.request({ method: 'GET', url: '/fhir/Patient?_sort=nickname', token })).status).toBe(400);
  });

  it('treats operators and patterns in values as plain text', async () => {
    expect(await ids('/fhir/Patient?family=%24ne')).toEqual([]);
    expect(await ids('/fhir/Patient?family=.*')).toEqual([]);
    expect(await ids(`/fhir/Patient?family=${encodeURIComponent('(a+)+$')}`)).toEqual([]);
    const res = await s.request({ method: 'GET', url: '/fhir/Patient?family[$ne]=x', token });
    expect(res.status).toBe(200);
  });

  it("confines a patient's token to their compartment in search, includes and chains", async () => {
    const mine = await s.token({ fhirUser: 'Patient/p1', scope: 'patient/*.rs', patient: 'p1' });
    const get = async (url: string) => (await s.request({ method: 'GET', url, token: mine })).body.entry?.map((e: any) => e.resource.id) ?? [];
    expect(await get('/fhir/Observation?_sort=_id')).toEqual(['o1', 'o2']);
    expect(await get('/fhir/DocumentReference?type=11502-2')).toEqual(['d1']);
    expect(await get('/fhir/Patient?_sort=_id')).toEqual(['p1']);
    expect(await get('/fhir/Patient?_id=p1&_revinclude=Observation:subject&_sort=_id')).toEqual(['p1', 'o1', 'o2']);
    expect(await get('/fhir/Observation?subject:Patient.name=martin')).toEqual([]);
  });
});
