import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, startServer } from '../harness.js';
import { actor, buildWorld, consent as consentOf, doc, found, INS, label, status, type World } from './world.js';

const JSON_PATCH = { 'content-type': 'application/json-patch+json' };

describeEngines('access: who sees what of a patient record', (engine) => {
  let w: World;
  beforeAll(async () => {
    w = await buildWorld(await startServer(engine));
  });
  afterAll(async () => w?.s.close());
  const docsOf = (patient: string, token: string) => found(w, `/fhir/DocumentReference?patient=${patient}&_total=accurate`, token);

  it('the patient sees their record, but not a document under embargo; after the author announces it, they do', async () => {
    const { ids, tokens } = w;
    const seen = await docsOf(ids.pA, tokens.patientA);
    expect(seen.ids).toEqual([ids.d1, ids.d2, ids.d4, ids.d5].sort());
    expect(seen.total).toBe(4);
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.d3}`, tokens.patientA)).toBe(404);
    // Another patient's record: nothing.
    expect((await docsOf(ids.pA, tokens.patientB)).ids).toEqual([]);
    expect(await status(w, 'GET', `/fhir/Observation/${ids.oA}`, tokens.patientB)).toBe(404);
    // The author removes the label: the patient sees the document from the next request.
    const patch = [{ op: 'remove', path: '/securityLabel' }];
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.d3}`, tokens.author, patch, JSON_PATCH)).toBe(200);
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.d3}`, tokens.patientA)).toBe(200);
    // Put it back under embargo for the other tests (the author may).
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.d3}`, tokens.author, [{ op: 'add', path: '/securityLabel', value: [label('INVISIBLE_PATIENT')] }], JSON_PATCH)).toBe(200);
  });

  it('a professional the patient authorized sees the record except masked documents; the médecin traitant sees those too', async () => {
    const { ids, tokens } = w;
    expect((await docsOf(ids.pA, tokens.doc)).ids).toEqual([ids.d1, ids.d3, ids.d4].sort());
    expect((await docsOf(ids.pA, tokens.doc)).total).toBe(3);
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.d2}`, tokens.doc)).toBe(404);
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.d5}`, tokens.doc)).toBe(404);
    expect(await status(w, 'GET', `/fhir/Patient/${ids.pA}`, tokens.doc)).toBe(200);
    expect((await docsOf(ids.pA, tokens.gp)).ids).toEqual([ids.d1, ids.d2, ids.d3, ids.d4, ids.d5].sort());
    // Neither sees another patient who named neither.
    expect(await status(w, 'GET', `/fhir/Observation/${ids.oB}`, tokens.gp)).toBe(404);
    expect(await status(w, 'GET', `/fhir/Patient/${ids.pB}`, tokens.doc)).toBe(404);
  });

  it('a professional nobody authorized sees only what they wrote; a blocked one, not even as médecin traitant', async () => {
    const { ids, tokens } = w;
    expect((await docsOf(ids.pA, tokens.stranger)).ids).toEqual([]);
    expect((await docsOf(ids.pA, tokens.stranger)).total).toBe(0);
    expect(await status(w, 'GET', `/fhir/Patient/${ids.pA}`, tokens.stranger)).toBe(404);
    expect((await docsOf(ids.pA, tokens.author)).ids).toEqual([ids.d1, ids.d2, ids.d3, ids.d4].sort());
    expect((await docsOf(ids.pA, tokens.blocked)).ids).toEqual([]);
    // The stranger may add to the record (A has not blocked them) and then sees what they added, only that.
    const added = await w.s.request({ method: 'POST', url: '/fhir/Observation', token: tokens.stranger, body: { resourceType: 'Observation', status: 'final', code: { text: 'tension' }, subject: { reference: `Patient/${ids.pA}` } } });
    expect(added.status).toBe(201);
    expect(await status(w, 'GET', `/fhir/Observation/${added.body.id}`, tokens.stranger)).toBe(200);
    expect(await status(w, 'GET', `/fhir/Observation/${ids.oA}`, tokens.stranger)).toBe(404);
    // The blocked professional may not add.
    const blockedObs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${ids.pA}` } };
    expect(await status(w, 'POST', '/fhir/Observation', tokens.blocked, blockedObs)).toBe(403);
    // Nor through a transaction, nor a batch entry.
    const bundle = (type: string) => ({ resourceType: 'Bundle', type, entry: [{ resource: { ...blockedObs, subject: { reference: `Patient/${ids.pB}` } }, request: { method: 'POST', url: 'Observation' } }, { resource: blockedObs, request: { method: 'POST', url: 'Observation' } }] });
    expect(await status(w, 'POST', '/fhir', tokens.blocked, bundle('transaction'))).toBe(403);
    const batch = await w.s.request({ method: 'POST', url: '/fhir', token: tokens.blocked, body: bundle('batch') });
    expect(batch.body.entry.map((e: any) => e.response.status.slice(0, 3))).toEqual(['201', '403']);
  });

  it('emergency access reads the record without authorization, never masked documents, never against an opposition', async () => {
    const { ids, tokens } = w;
    expect((await docsOf(ids.pA, tokens.btg)).ids).toEqual([ids.d1, ids.d3, ids.d4].sort());
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.d2}`, tokens.btg)).toBe(404);
    // B opposed emergency access.
    expect((await docsOf(ids.pB, tokens.btgB)).ids).toEqual([]);
    expect(await status(w, 'GET', `/fhir/Observation/${ids.oB}`, tokens.btgB)).toBe(404);
    // Without the purpose, the same professional sees nothing.
    expect((await docsOf(ids.pA, tokens.stranger)).ids).toEqual([]);
  });

  it("a minor's legal representative acts for them, except what is hidden from representatives; not once the patient is an adult", async () => {
    const { ids, tokens } = w;
    expect((await docsOf(ids.pM, tokens.rep)).ids).toEqual([ids.m1]);
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.m2}`, tokens.rep)).toBe(404);
    expect((await docsOf(ids.pM, tokens.patientM)).ids).toEqual([ids.m1, ids.m2].sort());
    expect(await status(w, 'GET', `/fhir/Patient/${ids.pA}`, tokens.adultRep)).toBe(404);
    expect((await docsOf(ids.pA, tokens.adultRep)).ids).toEqual([]);
    // The representative writes the minor's record (a Consent) but not an adult's.
    const consent = consentOf(ids.pM, { type: 'permit', actor: [actor(`Practitioner/${ids.doc}`)] });
    expect(await status(w, 'POST', '/fhir/Consent', tokens.rep, consent)).toBe(201);
    expect(await status(w, 'POST', '/fhir/Consent', tokens.adultRep, { ...consent, patient: { reference: `Patient/${ids.pA}` } })).toBe(403);
    // The minor's permit lets the professional in.
    expect((await docsOf(ids.pM, tokens.doc)).ids).toEqual([ids.m1, ids.m2].sort());
  });

  it('messages are seen by their sender and recipients only; access histories by the patient only', async () => {
    const { ids, tokens } = w;
    // The author's messages (the patient's record also holds the server's notifications to them).
    expect((await found(w, `/fhir/Communication?subject=Patient/${ids.pA}&sender=Practitioner/${ids.author}`, tokens.patientA)).ids).toEqual([ids.c1]);
    expect(await status(w, 'GET', `/fhir/Communication/${ids.c2}`, tokens.patientA)).toBe(404);
    expect(await status(w, 'GET', `/fhir/Communication/${ids.c2}`, tokens.gp)).toBe(200);
    expect(await status(w, 'GET', `/fhir/Communication/${ids.c2}`, tokens.doc)).toBe(404);
    expect(await status(w, 'GET', `/fhir/AuditEvent/${ids.audit}`, tokens.patientA)).toBe(200);
    expect(await status(w, 'GET', `/fhir/AuditEvent/${ids.audit}`, tokens.gp)).toBe(404);
    expect(await status(w, 'GET', `/fhir/AuditEvent/${ids.audit}`, tokens.patientB)).toBe(404);
  });

  it('labels: masking is the patient\'s; the embargo is the author\'s; anyone else gets 403 and nothing is written', async () => {
    const { ids, tokens } = w;
    const add = (code: string) => [{ op: 'add', path: '/securityLabel', value: [label(code)] }];
    // The author may not mask, the patient may not lift an embargo (d4's label) nor change the content.
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.d1}`, tokens.author, add('MASQUE_PS'), JSON_PATCH)).toBe(403);
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.d4}`, tokens.patientA, [{ op: 'remove', path: '/securityLabel' }], JSON_PATCH)).toBe(403);
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.d1}`, tokens.patientA, [{ op: 'replace', path: '/status', value: 'entered-in-error' }], JSON_PATCH)).toBe(403);
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.d1}`, tokens.doc, add('INVISIBLE_REPRESENTANTS_LEGAUX'), JSON_PATCH)).toBe(403);
    const d1 = await w.s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.d1}`, token: w.system });
    expect(d1.body.meta.versionId).toBe('1');
    // The minor may hide a document from their representatives; the representative may not.
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.m1}`, tokens.rep, add('INVISIBLE_REPRESENTANTS_LEGAUX'), JSON_PATCH)).toBe(403);
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.m1}`, tokens.patientM, add('INVISIBLE_REPRESENTANTS_LEGAUX'), JSON_PATCH)).toBe(200);
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.m1}`, tokens.rep)).toBe(404);
    // A professional may change only what they wrote.
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${ids.d5}`, tokens.gp, [{ op: 'replace', path: '/status', value: 'superseded' }], JSON_PATCH)).toBe(403);
    expect(await status(w, 'DELETE', `/fhir/DocumentReference/${ids.d5}`, tokens.gp)).toBe(403);
  });

  it("only the patient's side chooses the médecin traitant; a professional records only an attested permit naming themselves", async () => {
    const { ids, tokens } = w;
    expect(await status(w, 'POST', '/fhir/Patient', tokens.stranger, { resourceType: 'Patient', generalPractitioner: [{ reference: `Practitioner/${ids.stranger}` }] })).toBe(403);
    const gpChange = await w.s.request({ method: 'GET', url: `/fhir/Patient/${ids.pA}`, token: tokens.patientA });
    expect(await status(w, 'PUT', `/fhir/Patient/${ids.pA}`, tokens.patientA, { ...gpChange.body, generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }, { reference: `Practitioner/${ids.doc}` }] })).toBe(200);
    // Now médecin traitant, doc sees the masked document; the patient takes it back.
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.d2}`, tokens.doc)).toBe(200);
    expect(await status(w, 'PUT', `/fhir/Patient/${ids.pA}`, tokens.patientA, gpChange.body)).toBe(200);
    expect(await status(w, 'GET', `/fhir/DocumentReference/${ids.d2}`, tokens.doc)).toBe(404);
    // The médecin traitant may not change the choice either.
    const now = await w.s.request({ method: 'GET', url: `/fhir/Patient/${ids.pA}`, token: tokens.gp });
    expect(await status(w, 'PUT', `/fhir/Patient/${ids.pA}`, tokens.gp, { ...now.body, generalPractitioner: undefined })).toBe(403);
    const attested = consentOf({ identifier: { system: INS, value: '1800101000002' } }, { type: 'permit', actor: [actor(`Practitioner/${ids.stranger}`)] }, { verification: [{ verified: true }] });
    // Naming someone else, or not attested: refused. Named by INS, attested: recorded, and it counts.
    const other = { ...attested, provision: { type: 'permit', actor: [actor(`Practitioner/${ids.doc}`)] } };
    expect(await status(w, 'POST', '/fhir/Consent', tokens.stranger, other)).toBe(403);
    expect(await status(w, 'POST', '/fhir/Consent', tokens.stranger, { ...attested, verification: undefined })).toBe(403);
    expect((await docsOf(ids.pB, tokens.stranger)).ids).toEqual([]);
    const made = await w.s.request({ method: 'POST', url: '/fhir/Consent', token: tokens.stranger, body: attested });
    expect(made.status, made.text).toBe(201);
    expect(made.body.patient.reference).toBe(`Patient/${ids.pB}`);
    expect((await docsOf(ids.pB, tokens.stranger)).ids).toEqual([ids.dB]);
    // The patient sees it and revokes it: access ends with the next request.
    const consent = await w.s.request({ method: 'GET', url: `/fhir/Consent/${made.body.id}`, token: tokens.patientB });
    expect(consent.status).toBe(200);
    expect(await status(w, 'PUT', `/fhir/Consent/${made.body.id}`, tokens.patientB, { ...consent.body, status: 'inactive' })).toBe(200);
    expect((await docsOf(ids.pB, tokens.stranger)).ids).toEqual([]);
    // An unknown INS: 422, nothing else said.
    const unknown = await w.s.request({ method: 'POST', url: '/fhir/Consent', token: tokens.stranger, body: { ...attested, patient: { identifier: { system: INS, value: '999' } } } });
    expect(unknown.status).toBe(422);
  });

  it("a document's Binary has the document's access: posted first, linked by the DocumentReference, read by the patient", async () => {
    const { ids, tokens } = w;
    const upload = await w.s.request({ method: 'POST', url: '/fhir/Binary', token: tokens.author, body: 'résultats', headers: { 'content-type': 'text/plain' } });
    expect(upload.status).toBe(201);
    const withUrl = doc(ids.pA, { content: [{ attachment: { contentType: 'text/plain', url: `Binary/${upload.body.id}` } }] });
    const docRes = await w.s.request({ method: 'POST', url: '/fhir/DocumentReference', token: tokens.author, body: withUrl });
    expect(docRes.status, docRes.text).toBe(201);
    const raw = await w.s.request({ method: 'GET', url: `/fhir/Binary/${upload.body.id}`, token: tokens.patientA, headers: { accept: 'text/plain' } });
    expect(raw.status).toBe(200);
    expect(raw.text).toBe('résultats');
    expect(await status(w, 'GET', `/fhir/Binary/${upload.body.id}`, tokens.doc, undefined, { accept: 'text/plain' })).toBe(200);
    expect(await status(w, 'GET', `/fhir/Binary/${upload.body.id}`, tokens.stranger, undefined, { accept: 'text/plain' })).toBe(404);
    expect(await status(w, 'GET', `/fhir/Binary/${upload.body.id}`, tokens.patientB, undefined, { accept: 'text/plain' })).toBe(404);
    // The patient masks the document: its Binary is hidden from the authorized professional too.
    expect(await status(w, 'PATCH', `/fhir/DocumentReference/${docRes.body.id}`, tokens.patientA, [{ op: 'add', path: '/securityLabel', value: [label('MASQUE_PS')] }], JSON_PATCH)).toBe(200);
    expect(await status(w, 'GET', `/fhir/Binary/${upload.body.id}`, tokens.doc, undefined, { accept: 'text/plain' })).toBe(404);
    // A document pointing at a Binary that does not exist is refused.
    const dangling = doc(ids.pA, { content: [{ attachment: { contentType: 'text/plain', url: 'Binary/nope' } }] });
    expect(await status(w, 'POST', '/fhir/DocumentReference', tokens.author, dangling)).toBe(422);
  });
});
