import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEngines, startServer, type TestServer } from './harness.js';
import { useSystemClient } from './system-client.js';
import { buildWorld, type World } from './access/world.js';

/** Every page of an $everything from `url`: the `Type/id` of each entry in order, and the pages. */
async function everything(s: TestServer, url: string, token: string, between?: (page: number) => Promise<void>): Promise<{ refs: string[]; pages: any[] }> {
  const refs: string[] = [];
  const pages: any[] = [];
  let next: string | undefined = url;
  while (next) {
    const res = await s.request({ method: 'GET', url: next, token });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.body.type).toBe('searchset');
    pages.push(res.body);
    for (const e of res.body.entry ?? []) refs.push(`${e.resource.resourceType}/${e.resource.id}`);
    const link = res.body.link.find((l: any) => l.relation === 'next')?.url;
    next = link ? link.slice(s.baseUrl.length - '/fhir'.length) : undefined;
    if (next) await between?.(pages.length);
  }
  return { refs, pages };
}

const sorted = (xs: string[]) => [...xs].sort();

describeEngines('Patient/$everything', (engine) => {
  const c = useSystemClient(engine, { CARNET_AUDIT: 'off' });
  const { post } = c;
  const obs = (patient: string, extra: Record<string, unknown> = {}) => ({ resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: patient }, ...extra });

  let p: string;
  let other: string;
  const mine: string[] = [];
  const refd: string[] = [];
  let early: string;
  let late: string;
  let undated: string;
  beforeAll(async () => {
    const org = await post({ resourceType: 'Organization', name: 'Clinique' });
    const dr = await post({ resourceType: 'Practitioner', name: [{ family: 'Dupont' }] });
    await post({ resourceType: 'Practitioner', name: [{ family: 'Personne' }] }); // referred to by nobody
    refd.push(org, dr);
    p = await post({ resourceType: 'Patient', name: [{ family: 'Martin' }], generalPractitioner: [{ reference: dr }], managingOrganization: { reference: org } });
    other = await post({ resourceType: 'Patient', name: [{ family: 'Autre' }] });
    early = await post(obs(p, { effectiveDateTime: '2020-03-01', performer: [{ reference: dr }] }));
    late = await post(obs(p, { effectiveDateTime: '2024-06-01' }));
    undated = await post(obs(p));
    const cond = await post({ resourceType: 'Condition', subject: { reference: p }, code: { text: 'asthme' }, onsetDateTime: '2019-01-01' });
    const bin = await post({ resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from('cr').toString('base64') });
    const docRef = await post({ resourceType: 'DocumentReference', status: 'current', subject: { reference: p }, content: [{ attachment: { contentType: 'text/plain', url: bin } }] });
    refd.push(bin);
    mine.push(p, early, late, undated, cond, docRef);
    await post(obs(other, { performer: [{ reference: dr }] }));
    // The server's notifications to the patient (a new document) are in their record too.
    const notes = await c.s.request({ method: 'GET', url: `/fhir/Communication?recipient=${p}`, token: c.token });
    for (const e of notes.body.entry ?? []) mine.push(`Communication/${e.resource.id}`);
    expect(mine.filter((r) => r.startsWith('Communication/'))).toHaveLength(1);
  });

  it('gives the patient, their compartment and what it refers to, each once; paged with no empty last page', async () => {
    const whole = await everything(c.s, `/fhir/${p}/$everything`, c.token);
    // The Binary (no compartment type in FHIR) comes as what the document refers to, as the Practitioner does.
    expect(sorted(whole.refs)).toEqual(sorted([...mine, ...refd]));
    expect(whole.refs[0]).toBe(p);
    expect(whole.pages).toHaveLength(1);
    const modes = Object.fromEntries(whole.pages[0].entry.map((e: any) => [`${e.resource.resourceType}/${e.resource.id}`, e.search.mode]));
    for (const ref of refd) expect(modes[ref]).toBe('include');
    expect(modes[early]).toBe('match');
    const total = whole.refs.length;
    for (const count of [1, 2, 3, total - 1, total, total + 1]) {
      const paged = await everything(c.s, `/fhir/${p}/$everything?_count=${count}`, c.token);
      expect(paged.refs, `_count=${count}`).toEqual(whole.refs);
      expect(paged.pages.length, `_count=${count}`).toBe(Math.ceil(total / count));
      for (const page of paged.pages) expect(page.entry?.length ?? 0).toBeGreaterThan(0);
    }
  });

  it('_type keeps those types only; _since keeps what changed since; start and end keep the care dates in range', async () => {
    const types = await everything(c.s, `/fhir/${p}/$everything?_type=Observation,Practitioner`, c.token);
    expect(sorted(types.refs)).toEqual(sorted([early, late, undated, refd[1]]));

    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const res = await c.s.request({ method: 'PUT', url: `/fhir/${late}`, token: c.token, body: { ...obs(p, { effectiveDateTime: '2024-06-01', status: 'amended' }), id: late.split('/')[1] } });
    expect(res.status).toBe(200);
    expect((await everything(c.s, `/fhir/${p}/$everything?_since=${encodeURIComponent(before)}`, c.token)).refs).toEqual([late]);

    // Observation.effective, Condition.onset: a record without a care date stays.
    const range = await everything(c.s, `/fhir/${p}/$everything?start=2024-01-01&_type=Observation,Condition`, c.token);
    expect(sorted(range.refs)).toEqual(sorted([late, undated]));
    const upTo = await everything(c.s, `/fhir/${p}/$everything?end=2020-03&_type=Observation,Condition`, c.token);
    expect(sorted(upTo.refs)).toEqual(sorted([early, undated, mine[4]]));
    const within = await everything(c.s, `/fhir/${p}/$everything?start=2020&end=2020&_type=Observation`, c.token);
    expect(sorted(within.refs)).toEqual(sorted([early, undated]));
  });

  it('refuses bad parameters with 400 and an OperationOutcome', async () => {
    for (const q of ['start=yesterday', '_since=2020-01-01', '_type=Banana', '_count=0', '_count=x', '_page=nonsense']) {
      const res = await c.s.request({ method: 'GET', url: `/fhir/${p}/$everything?${q}`, token: c.token });
      expect(res.status, q).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('the type level gives every patient, each resource once, for system clients only', async () => {
    const all = await everything(c.s, '/fhir/Patient/$everything?_count=3', c.token);
    expect(new Set(all.refs).size).toBe(all.refs.length);
    expect(all.refs).toEqual(expect.arrayContaining([p, other, ...mine, ...refd]));
    const patientToken = await c.s.token({ fhirUser: p, scope: 'user/*.rs' });
    expect((await c.s.request({ method: 'GET', url: '/fhir/Patient/$everything', token: patientToken })).status).toBe(403);
  });

  it('the patient gets their own record; another patient, or an unknown one, gets the same 404', async () => {
    const patientToken = await c.s.token({ fhirUser: p, scope: 'user/*.rs' });
    const own = await everything(c.s, `/fhir/${p}/$everything`, patientToken);
    expect(own.refs).toEqual(expect.arrayContaining([p, early, late, undated]));
    const otherToken = await c.s.token({ fhirUser: other, scope: 'user/*.rs' });
    const hidden = await c.s.request({ method: 'GET', url: `/fhir/${p}/$everything`, token: otherToken });
    const unknown = await c.s.request({ method: 'GET', url: `/fhir/Patient/nobody/$everything`, token: otherToken });
    expect(hidden.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(hidden.text.replace(p.split('/')[1], 'X')).toBe(unknown.text.replace('nobody', 'X'));
  });
});

describeEngines('Patient/$everything and the access rules', (engine) => {
  let w: World;
  beforeAll(async () => {
    w = await buildWorld(await startServer(engine, { CARNET_AUDIT: 'off' }));
  });
  afterAll(async () => w?.s.close());

  it("a professional's $everything leaves out the documents masked from them; the médecin traitant's does not", async () => {
    const { s, ids, tokens } = w;
    const docs = async (token: string) => (await everything(s, `/fhir/Patient/${ids.pA}/$everything?_count=2`, token)).refs.filter((r) => r.startsWith('DocumentReference/'));
    expect(sorted(await docs(tokens.doc))).toEqual(sorted([ids.d1, ids.d3, ids.d4].map((id) => `DocumentReference/${id}`)));
    expect(sorted(await docs(tokens.gp))).toEqual(sorted([ids.d1, ids.d2, ids.d3, ids.d4, ids.d5].map((id) => `DocumentReference/${id}`)));
    // The patient: not the document under embargo (d3).
    expect(sorted(await docs(tokens.patientA))).toEqual(sorted([ids.d1, ids.d2, ids.d4, ids.d5].map((id) => `DocumentReference/${id}`)));
    const whole = await everything(s, `/fhir/Patient/${ids.pA}/$everything`, tokens.doc);
    expect(new Set(whole.refs).size).toBe(whole.refs.length);
    expect(whole.refs).toContain(`Observation/${ids.oA}`);
    expect(whole.refs).not.toContain(`Observation/${ids.oB}`);
    // The médecin traitant, referred to by the patient, comes along.
    expect(whole.refs).toContain(`Practitioner/${ids.gp}`);
  });

  it('a professional with no access, a blocked one, and a patient app of another patient get the 404 of an unknown patient', async () => {
    const { s, ids, tokens } = w;
    const unknown = await s.request({ method: 'GET', url: `/fhir/Patient/nobody/$everything`, token: tokens.stranger });
    expect(unknown.status).toBe(404);
    for (const token of [tokens.stranger, tokens.blocked, tokens.patientB]) {
      const res = await s.request({ method: 'GET', url: `/fhir/Patient/${ids.pA}/$everything`, token });
      expect(res.status).toBe(404);
      expect(res.text.replace(ids.pA, 'nobody')).toBe(unknown.text);
    }
  });
});

describe('the CapabilityStatement', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer('lmdb');
  });
  afterAll(async () => s?.close());

  it('lists $everything and $summary on Patient, with their OperationDefinitions', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/metadata' });
    const patient = res.body.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(patient.operation).toEqual(expect.arrayContaining([
      { name: 'everything', definition: 'urn:carnet:OperationDefinition/Patient-everything' },
      { name: 'summary', definition: 'urn:carnet:OperationDefinition/Patient-summary' },
    ]));
    const observation = res.body.rest[0].resource.find((r: any) => r.type === 'Observation');
    expect((observation.operation ?? []).map((o: any) => o.name)).not.toContain('everything');
  });
});
