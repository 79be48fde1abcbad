import { beforeAll, describe, expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from '../harness.js';
import { actor, consent, label } from '../access/world.js';
import { INS, provideBundle } from '../mhd-bundles.js';
import { TEXTS } from '../../src/notify/notice.js';

const ROLE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const TRE_A03 = 'https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument';
const DAY = 24 * 3600 * 1000;
/** A test makes a dozen requests and searches; on FerretDB (filters evaluated in process) with the suite's other files on two cores, that can pass the default minute. */
const SLOW = 240_000;
/** What the documents of these tests say about themselves: none of it may reach a notification. */
const HEALTH_DATA = ['Radio du genou', '11502-2', 'Compte rendu', 'compte rendu', 'Résultats', '11488-4', 'Contenu', 'Claire', 'Document 1', 'title', 'description', 'Y29tcHRl'];

/** The clock of the server: real time, moved forward by the embargo test. */
let offset = 0;
const now = () => new Date(Date.now() + offset);

function docOf(patient: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '11502-2', display: 'Compte rendu de laboratoire' }] },
    description: 'Radio du genou',
    subject: { reference: `Patient/${patient}` },
    date: now().toISOString(),
    content: [{ attachment: { contentType: 'text/plain', title: 'Compte rendu', data: Buffer.from('compte rendu').toString('base64') } }],
    ...extra,
  };
}

describeEngines('Notifications to the patient', (engine) => {
  let s: TestServer;
  let system: string;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};

  useServer(engine, (server, token) => {
    s = server;
    system = token;
  }, {}, now);

  const post = async (body: Record<string, unknown>, token = system, url = `/fhir/${String(body.resourceType)}`) => {
    const res = await s.request({ method: 'POST', url, token, body });
    expect(res.status, res.text.slice(0, 500)).toBeLessThan(300);
    return res.body;
  };
  /** The notifications of a kind about a patient's record, to whom they were addressed. */
  const notifications = async (patient: string, kind?: string, recipient = `Patient/${patient}`): Promise<any[]> => {
    const category = kind ? `&category=urn:carnet:notification|${kind}` : '';
    const res = await s.request({ method: 'GET', url: `/fhir/Communication?recipient=${recipient}&subject=Patient/${patient}${category}&_count=100`, token: system });
    expect(res.status).toBe(200);
    return (res.body.entry ?? []).map((e: any) => e.resource);
  };
  /** A notification as the issue wants it: to the patient about their record, the text given, references only. */
  const expectNotice = (n: any, patient: string, kind: string, text: string, recipient = `Patient/${patient}`) => {
    expect(n.status).toBe('completed');
    expect(n.category).toEqual([
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/communication-category', code: 'notification' }] },
      { coding: [{ system: 'urn:carnet:notification', code: kind }] },
    ]);
    expect(n.subject).toEqual({ reference: `Patient/${patient}` });
    expect(n.recipient).toEqual([{ reference: recipient }]);
    expect(n.payload).toEqual([{ contentString: text }]);
    expect(typeof n.sent).toBe('string');
    for (const a of n.about ?? []) expect(Object.keys(a)).toEqual(['reference']);
    const json = JSON.stringify(n);
    for (const word of HEALTH_DATA) expect(json).not.toContain(word);
  };

  beforeAll(async () => {
    for (const p of ['gp', 'doc', 'author', 'er', 'pro2', 'other']) ids[p] = (await post({ resourceType: 'Practitioner', name: [{ family: `Dr ${p}` }] })).id;
    ids.p = (await post({ resourceType: 'Patient', identifier: [{ system: INS, value: '1900112345678' }], birthDate: '1980-01-01', generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }] })).id;
    ids.m = (await post({ resourceType: 'Patient', birthDate: new Date(Date.now() - 10 * 365 * DAY).toISOString().slice(0, 10) })).id;
    ids.rep = (await post({ resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${ids.m}` }, relationship: [{ coding: [{ system: ROLE, code: 'MTH' }] }] })).id;
    await post({ resourceType: 'Organization', name: 'CH Test', identifier: [{ system: 'https://finess.esante.gouv.fr', value: '750712184' }] });
    tokens.patient = await s.token({ fhirUser: `Patient/${ids.p}`, scope: 'user/*.cruds' });
    tokens.minor = await s.token({ fhirUser: `Patient/${ids.m}`, scope: 'user/*.cruds' });
    tokens.rep = await s.token({ fhirUser: `RelatedPerson/${ids.rep}`, scope: 'user/*.cruds' });
    for (const p of ['gp', 'doc', 'author', 'pro2', 'other']) tokens[p] = await s.token({ fhirUser: `Practitioner/${ids[p]}`, scope: 'user/*.cruds' });
    tokens.er = await s.token({ fhirUser: `Practitioner/${ids.er}`, scope: 'user/*.rs', patient: ids.p, purpose_of_use: 'BTG' });
    // The patient authorizes doc: their own action.
    await post(consent(ids.p, { type: 'permit', actor: [actor(`Practitioner/${ids.doc}`)] }), tokens.patient);
  }, SLOW);

  it('does not notify the patient of their own actions', async () => {
    await post(docOf(ids.p, { author: [{ reference: `Patient/${ids.p}` }], category: [{ coding: [{ system: TRE_A03, code: '90' }] }] }), tokens.patient);
    expect(await notifications(ids.p)).toEqual([]);
  }, SLOW);

  it('notifies a new document once, with no health data', async () => {
    const d = await post(docOf(ids.p), tokens.author);
    ids.d = d.id;
    const found = await notifications(ids.p, 'document-new');
    expect(found).toHaveLength(1);
    expectNotice(found[0], ids.p, 'document-new', 'Un nouveau document a été ajouté à votre dossier.');
    expect(found[0].about).toEqual([{ reference: `DocumentReference/${d.id}` }]);
    // A valid R4 Communication.
    const { id: _id, meta: _meta, ...resource } = found[0];
    const checked = await s.request({ method: 'POST', url: '/fhir/Communication/$validate', token: system, body: resource });
    expect(checked.status, checked.text).toBe(200);
    expect(checked.body.issue.filter((i: any) => i.severity === 'error')).toEqual([]);
  }, SLOW);

  it('notifies an ITI-65 submission of three documents once', async () => {
    const before = (await notifications(ids.p, 'document-new')).length;
    const bundle = provideBundle(`Patient?identifier=${INS}|1900112345678`, [
      { type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00' },
      { type: '18748-4', category: '31', start: '2026-03-15T09:00:00+01:00' },
      { type: '11502-2', category: '10', start: '2025-12-01T08:00:00+01:00' },
    ]);
    const res = await s.request({ method: 'POST', url: '/fhir', token: system, body: bundle });
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    const docs: string[] = res.body.entry.map((e: any) => /(DocumentReference\/[^/]+)/.exec(e.response.location)?.[1]).filter(Boolean);
    expect(docs).toHaveLength(3);
    ids.submitted = docs[0].split('/')[1];
    const found = await notifications(ids.p, 'document-new');
    expect(found).toHaveLength(before + 1);
    const n = found.find((c) => c.about.length === 3);
    expectNotice(n, ids.p, 'document-new', '3 nouveaux documents ont été ajoutés à votre dossier.');
    expect(n.about.map((a: any) => a.reference).sort()).toEqual(docs.sort());
  }, SLOW);

  it('notifies a changed document once, and a replacement by a submission once', async () => {
    const current = (await s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.d}`, token: tokens.author })).body;
    const res = await s.request({ method: 'PUT', url: `/fhir/DocumentReference/${ids.d}`, token: tokens.author, body: { ...current, description: 'Radio du genou, relue' } });
    expect(res.status).toBe(200);
    let found = await notifications(ids.p, 'document-changed');
    expect(found).toHaveLength(1);
    expectNotice(found[0], ids.p, 'document-changed', TEXTS.documentsChanged(1));
    expect(found[0].about).toEqual([{ reference: `DocumentReference/${ids.d}` }]);

    const replacing = await s.request({
      method: 'POST', url: '/fhir', token: system,
      body: provideBundle(`Patient?identifier=${INS}|1900112345678`, [{ type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00', relatesTo: `DocumentReference/${ids.submitted}` }]),
    });
    expect(replacing.status, replacing.text.slice(0, 500)).toBe(200);
    found = await notifications(ids.p, 'document-changed');
    expect(found).toHaveLength(2);
    const n = found.find((c) => c.about.some((a: any) => a.reference === `DocumentReference/${ids.submitted}`));
    expectNotice(n, ids.p, 'document-changed', 'Un document de votre dossier a été remplacé, modifié ou retiré.');
    expect(n.about).toHaveLength(2);

    expect((await s.request({ method: 'DELETE', url: `/fhir/DocumentReference/${ids.d}`, token: tokens.author })).status).toBe(204);
    found = await notifications(ids.p, 'document-changed');
    expect(found).toHaveLength(3);
    expect(found.filter((c) => c.about.length === 1 && c.about[0].reference === `DocumentReference/${ids.d}`)).toHaveLength(2);
  }, SLOW);

  it('does not notify a document the patient may not see yet, nor one hidden from legal representatives', async () => {
    const before = (await notifications(ids.p)).length;
    ids.embargoed = (await post(docOf(ids.p, { securityLabel: [label('INVISIBLE_PATIENT')] }), tokens.author)).id;
    expect(await notifications(ids.p)).toHaveLength(before);
    // Its author lifts the embargo: the patient now sees a new document.
    const lifted = await post(docOf(ids.p, { securityLabel: [label('INVISIBLE_PATIENT')] }), tokens.author);
    expect(await notifications(ids.p)).toHaveLength(before);
    const { securityLabel: _label, ...announced } = lifted;
    expect((await s.request({ method: 'PUT', url: `/fhir/DocumentReference/${lifted.id}`, token: tokens.author, body: announced })).status).toBe(200);
    const found = await notifications(ids.p);
    expect(found).toHaveLength(before + 1);
    expect(found.filter((n) => n.about?.[0]?.reference === `DocumentReference/${lifted.id}`).map((n) => n.payload[0].contentString)).toEqual([TEXTS.documentsNew(1)]);
    await post(docOf(ids.m, { securityLabel: [label('INVISIBLE_REPRESENTANTS_LEGAUX')] }), tokens.author);
    expect(await notifications(ids.m, 'document-new')).toEqual([]);
  }, SLOW);

  it("notifies a professional's first access once, and never shows notifications to other professionals", async () => {
    expect(await notifications(ids.p, 'first-access')).toEqual([]);
    for (let i = 0; i < 3; i++) expect((await s.request({ method: 'GET', url: `/fhir/DocumentReference?patient=Patient/${ids.p}`, token: tokens.doc })).status).toBe(200);
    const found = await notifications(ids.p, 'first-access');
    expect(found).toHaveLength(1);
    expectNotice(found[0], ids.p, 'first-access', TEXTS.firstAccess);
    const about = found[0].about.map((a: any) => a.reference);
    expect(about).toContain(`Practitioner/${ids.doc}`);
    const event = about.find((r: string) => r.startsWith('AuditEvent/'));
    expect((await s.request({ method: 'GET', url: `/fhir/${event}`, token: tokens.patient })).status).toBe(200);

    // The médecin traitant's first access is theirs: one more, then none.
    await s.request({ method: 'GET', url: `/fhir/Patient/${ids.p}`, token: tokens.gp });
    await s.request({ method: 'GET', url: `/fhir/Patient/${ids.p}`, token: tokens.gp });
    expect(await notifications(ids.p, 'first-access')).toHaveLength(2);

    // The patient reads them in their record; professionals, the author of the documents included, do not.
    const mine = await s.request({ method: 'GET', url: `/fhir/Communication?recipient=Patient/${ids.p}&category=urn:carnet:notification|first-access`, token: tokens.patient });
    expect(mine.body.total).toBe(2);
    for (const t of [tokens.doc, tokens.gp, tokens.author]) {
      const seen = await s.request({ method: 'GET', url: `/fhir/Communication?subject=Patient/${ids.p}`, token: t });
      expect(seen.status).toBe(200);
      expect(seen.body.total).toBe(0);
      expect((await s.request({ method: 'GET', url: `/fhir/Communication/${found[0].id}`, token: t })).status).toBe(404);
    }
  }, SLOW);

  it('notifies concurrent first accesses once, and answers them all', async () => {
    const patient = (await post({ resourceType: 'Patient', birthDate: '1970-01-01', generalPractitioner: [{ reference: `Practitioner/${ids.other}` }] })).id;
    const answers = await Promise.all(Array.from({ length: 8 }, () => s.request({ method: 'GET', url: `/fhir/Patient/${patient}`, token: tokens.other })));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(await notifications(patient, 'first-access')).toHaveLength(1);
  }, SLOW);

  it('notifies an emergency access to the patient and to their médecin traitant, once a day', async () => {
    for (let i = 0; i < 2; i++) expect((await s.request({ method: 'GET', url: `/fhir/Patient/${ids.p}`, token: tokens.er })).status).toBe(200);
    const toPatient = await notifications(ids.p, 'emergency-access');
    expect(toPatient).toHaveLength(1);
    expectNotice(toPatient[0], ids.p, 'emergency-access', TEXTS.emergency);
    expect(toPatient[0].about.map((a: any) => a.reference)).toContain(`Practitioner/${ids.er}`);
    const toGp = await notifications(ids.p, 'emergency-access', `Practitioner/${ids.gp}`);
    expect(toGp).toHaveLength(1);
    expectNotice(toGp[0], ids.p, 'emergency-access', TEXTS.emergencyToGp, `Practitioner/${ids.gp}`);
    // An emergency access is not counted as a first access.
    expect((await notifications(ids.p, 'first-access')).map((n) => n.about.map((a: any) => a.reference)).flat()).not.toContain(`Practitioner/${ids.er}`);
    // The médecin traitant reads theirs; another professional does not.
    expect((await s.request({ method: 'GET', url: `/fhir/Communication/${toGp[0].id}`, token: tokens.gp })).status).toBe(200);
    expect((await s.request({ method: 'GET', url: `/fhir/Communication/${toGp[0].id}`, token: tokens.doc })).status).toBe(404);
    expect((await s.request({ method: 'GET', url: `/fhir/Communication/${toPatient[0].id}`, token: tokens.patient })).status).toBe(200);
  }, SLOW);

  it("notifies a professional's recording of the patient's authorization once", async () => {
    const attested = consent({ identifier: { system: INS, value: '1900112345678' } }, { type: 'permit', actor: [actor(`Practitioner/${ids.pro2}`)] }, { verification: [{ verified: true }] });
    const c = await post(attested, tokens.pro2);
    const found = await notifications(ids.p, 'authorization');
    expect(found).toHaveLength(1);
    expectNotice(found[0], ids.p, 'authorization', TEXTS.authorization);
    expect(found[0].about).toEqual([{ reference: `Consent/${c.id}` }]);
  }, SLOW);

  it("notifies a new legal representative once, and a representative's actions", async () => {
    const second = await post({ resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${ids.m}` }, relationship: [{ coding: [{ system: ROLE, code: 'FTH' }] }] });
    let found = await notifications(ids.m, 'representative');
    expect(found).toHaveLength(2);
    expect(found.map((n) => n.about[0].reference)).toContain(`RelatedPerson/${second.id}`);
    for (const n of found) expectNotice(n, ids.m, 'representative', TEXTS.representative);
    // Changing the representative is not a new one.
    const res = await s.request({ method: 'PUT', url: `/fhir/RelatedPerson/${second.id}`, token: system, body: { ...second, name: [{ family: 'Martin' }] } });
    expect(res.status).toBe(200);
    found = await notifications(ids.m, 'representative');
    expect(found).toHaveLength(2);

    // A representative acts for the minor, who (like the other representatives) is told.
    await post(docOf(ids.m), tokens.rep);
    expect(await notifications(ids.m, 'document-new')).toHaveLength(1);
    // The minor's own actions are theirs.
    await post({ resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${ids.m}` }, relationship: [{ coding: [{ system: ROLE, code: 'GUARD' }] }] }, tokens.minor);
    expect(await notifications(ids.m, 'representative')).toHaveLength(2);
  }, SLOW);

  it('notifies a document still embargoed two weeks after its date once, from the daily job', async () => {
    const recent = (await post(docOf(ids.p, { securityLabel: [label('INVISIBLE_PATIENT')], date: new Date(now().getTime() + 5 * DAY).toISOString() }), tokens.author)).id;
    expect((await s.app.scheduler.runNow('notify-embargoed-documents')).ran).toBe(true);
    expect(await notifications(ids.p, 'document-embargoed')).toEqual([]);
    offset = 15 * DAY;
    try {
      for (let i = 0; i < 2; i++) expect((await s.app.scheduler.runNow('notify-embargoed-documents')).ran).toBe(true);
      const found = await notifications(ids.p, 'document-embargoed');
      expect(found).toHaveLength(1);
      expectNotice(found[0], ids.p, 'document-embargoed', TEXTS.embargoed);
      expect(found[0].about).toEqual([{ reference: `DocumentReference/${ids.embargoed}` }]);
      expect(found[0].about).not.toContainEqual({ reference: `DocumentReference/${recent}` });
    } finally {
      offset = 0;
    }
  }, SLOW);
});

describeEngines('Notifications with CARNET_AUDIT=off', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => {
    s = server;
    system = token;
  }, { CARNET_AUDIT: 'off' });

  it("still notifies a professional's first access, once", async () => {
    const gp = (await s.request({ method: 'POST', url: '/fhir/Practitioner', token: system, body: { resourceType: 'Practitioner' } })).body.id;
    const patient = (await s.request({ method: 'POST', url: '/fhir/Patient', token: system, body: { resourceType: 'Patient', generalPractitioner: [{ reference: `Practitioner/${gp}` }] } })).body.id;
    const token = await s.token({ fhirUser: `Practitioner/${gp}`, scope: 'user/*.rs' });
    for (let i = 0; i < 2; i++) expect((await s.request({ method: 'GET', url: `/fhir/Observation?patient=Patient/${patient}`, token })).status).toBe(200);
    const found = (await s.request({ method: 'GET', url: `/fhir/Communication?recipient=Patient/${patient}`, token: system })).body;
    expect(found.total).toBe(1);
    expect(found.entry[0].resource.payload[0].contentString).toBe(TEXTS.firstAccess);
    expect(found.entry[0].resource.about).toEqual([{ reference: `Practitioner/${gp}` }]);
    expect((await s.request({ method: 'GET', url: '/fhir/AuditEvent', token: system })).body.total).toBe(0);
  }, SLOW);
});
