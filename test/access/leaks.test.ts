import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, startServer } from '../harness.js';
import { buildWorld, doc, found, label, type World } from './world.js';

/**
 * Probes that try to see, or infer, what the caller may not see. Each asserts that the hidden
 * resource neither appears nor answers differently from one that does not exist.
 */
describeEngines('access: leak probes', (engine) => {
  let w: World;
  let probes = 0;
  beforeAll(async () => {
    w = await buildWorld(await startServer(engine));
  });
  afterAll(async () => {
    await w?.s.close();
    expect(probes).toBeGreaterThanOrEqual(40);
  });
  const get = (url: string, token: string, headers?: Record<string, string>) => w.s.request({ method: 'GET', url, token, ...(headers ? { headers } : {}) });
  /** A hidden thing answers byte for byte as a thing that does not exist (ids replaced). */
  const sameAsAbsent = async (hiddenUrl: string, absentUrl: string, hiddenId: string, token: string) => {
    probes++;
    const hidden = await get(hiddenUrl, token);
    const absent = await get(absentUrl, token);
    expect(hidden.status, hiddenUrl).toBe(absent.status);
    expect(hidden.text.replaceAll(hiddenId, 'X')).toBe(absent.text.replaceAll('does-not-exist', 'X'));
  };
  const hiddenFrom = async (url: string, token: string, hiddenIds: string[]) => {
    probes++;
    const res = await get(url, token);
    expect([200, 403, 404], url).toContain(res.status);
    // Every resource of the answer (matches and includes); the query itself echoes what the client sent.
    const served = JSON.stringify((res.body?.entry ?? []).map((e: any) => e.resource));
    for (const id of hiddenIds) expect(served, url).not.toContain(id);
  };

  it('read, vread, history and raw Binary of hidden resources answer as absent ones', async () => {
    const { ids, tokens } = w;
    for (const [hidden, token] of [
      [`DocumentReference/${ids.d2}`, tokens.doc], // masked
      [`DocumentReference/${ids.d5}`, tokens.doc], // masked by consent
      [`DocumentReference/${ids.d3}`, tokens.patientA], // embargo
      [`DocumentReference/${ids.d1}`, tokens.stranger],
      [`DocumentReference/${ids.d1}`, tokens.blocked],
      [`Observation/${ids.oB}`, tokens.patientA],
      [`Observation/${ids.oB}`, tokens.appA],
      [`Communication/${ids.c2}`, tokens.patientA],
      [`AuditEvent/${ids.audit}`, tokens.gp],
      [`DocumentReference/${ids.m2}`, tokens.rep],
      [`Patient/${ids.pA}`, tokens.adultRep],
    ] as const) {
      const [type, id] = hidden.split('/');
      await sameAsAbsent(`/fhir/${hidden}`, `/fhir/${type}/does-not-exist`, id, token);
      await sameAsAbsent(`/fhir/${hidden}/_history/1`, `/fhir/${type}/does-not-exist/_history/1`, id, token);
      await sameAsAbsent(`/fhir/${hidden}/_history`, `/fhir/${type}/does-not-exist/_history`, id, token);
    }
  });

  it('searches, totals, includes, chains, _has, compartments and _summary=count leave hidden resources out', async () => {
    const { ids, tokens } = w;
    const hidden = [ids.d2, ids.d5];
    for (const url of [
      `/fhir/DocumentReference?patient=${ids.pA}`,
      `/fhir/DocumentReference?subject=Patient/${ids.pA}&_total=accurate`,
      `/fhir/DocumentReference?security-label=MASQUE_PS`,
      `/fhir/DocumentReference?_id=${ids.d2},${ids.d5}`,
      `/fhir/Patient/${ids.pA}/DocumentReference`,
      `/fhir/Patient?_id=${ids.pA}&_revinclude=DocumentReference:subject`,
      `/fhir/DocumentReference?patient.identifier=1800101000001`,
      `/fhir/Patient?_has:DocumentReference:subject:_id=${ids.d2}`,
      `/fhir/DocumentReference?_type=DocumentReference&patient=${ids.pA}&_elements=id`,
      `/fhir?_type=DocumentReference,Observation&_id=${ids.d2}`,
    ]) {
      await hiddenFrom(url, tokens.doc, hidden);
    }
    probes++;
    expect((await found(w, `/fhir/DocumentReference?patient=${ids.pA}&_summary=count`, tokens.doc)).total).toBe(3);
    probes++;
    expect((await found(w, `/fhir/DocumentReference?patient=${ids.pA}&_count=1`, tokens.doc)).total).toBe(3);
    // Paging a hidden-heavy record: full pages, no empty last page.
    probes++;
    const first = await get(`/fhir/DocumentReference?patient=${ids.pA}&_count=2`, tokens.doc);
    expect(first.body.entry).toHaveLength(2);
    const next = first.body.link.find((l: any) => l.relation === 'next').url.replace('http://carnet.test', '');
    const second = await get(next, tokens.doc);
    expect(second.body.entry).toHaveLength(1);
    expect(second.body.link.find((l: any) => l.relation === 'next')).toBeUndefined();
    // The has-parameter on a hidden document tells nothing: the Patient is not found through it.
    probes++;
    expect((await found(w, `/fhir/Patient?_has:DocumentReference:subject:_id=${ids.d2}`, tokens.doc)).ids).toEqual([]);
    // A patient token for another patient, messages, the access history.
    await hiddenFrom(`/fhir/Observation?subject=Patient/${ids.pB}`, tokens.patientA, [ids.oB]);
    await hiddenFrom(`/fhir/Communication?subject=Patient/${ids.pA}`, tokens.patientA, [ids.c2]);
    await hiddenFrom(`/fhir/AuditEvent?patient=Patient/${ids.pA}`, tokens.doc, [ids.audit]);
    await hiddenFrom(`/fhir/AuditEvent?patient=Patient/${ids.pA}`, tokens.patientB, [ids.audit]);
    await hiddenFrom(`/fhir/Consent?patient=Patient/${ids.pA}`, tokens.doc, []);
    probes++;
    expect((await found(w, `/fhir/Consent?patient=Patient/${ids.pA}`, tokens.doc)).ids).toEqual([]);
    probes++;
    expect(await get('/fhir/DocumentReference/_history', tokens.doc).then((r) => r.status)).toBe(403);
  });

  it('conditional create, update and delete answer the same whether or not a hidden resource matches', async () => {
    const { ids, tokens, s } = w;
    const identified = doc(ids.pA, { identifier: [{ system: 'urn:test', value: 'hidden-doc' }] });
    const made = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token: tokens.gp, body: identified });
    expect(made.status).toBe(201);
    // The stranger does not see the gp's document: their conditional create creates, as if nothing matched.
    probes++;
    const cond = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token: tokens.author, body: identified, headers: { 'if-none-exist': 'identifier=urn:test|hidden-doc' } });
    expect(cond.status).toBe(201);
    probes++;
    const del = await s.request({ method: 'DELETE', url: '/fhir/Observation?identifier=urn:none|x', token: tokens.stranger });
    const delHidden = await s.request({ method: 'DELETE', url: `/fhir/Observation?_id=${ids.oA}`, token: tokens.stranger });
    expect(delHidden.status).toBe(del.status);
    expect((await get(`/fhir/Observation/${ids.oA}`, w.system)).status).toBe(200);
    // PUT to a hidden id answers as PUT to an absent id, and writes nothing.
    probes++;
    const body = (id: string) => ({ resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${ids.pA}` } });
    const putHidden = await s.request({ method: 'PUT', url: `/fhir/Observation/${ids.oB}`, token: tokens.patientA, body: body(ids.oB) });
    const putAbsent = await s.request({ method: 'PUT', url: '/fhir/Observation/does-not-exist', token: tokens.patientA, body: body('does-not-exist') });
    expect(putHidden.status).toBe(putAbsent.status);
    expect(putHidden.text.replaceAll(ids.oB, 'X')).toBe(putAbsent.text.replaceAll('does-not-exist', 'X'));
    expect((await get(`/fhir/Observation/${ids.oB}`, w.system)).body.meta.versionId).toBe('1');
  });

  it("a patient cannot take over another patient's deleted resource, nor read its history", async () => {
    const { ids, tokens, s } = w;
    const b = await s.request({ method: 'POST', url: '/fhir/Observation', token: tokens.patientB, body: { resourceType: 'Observation', status: 'final', code: { text: 'secret' }, subject: { reference: `Patient/${ids.pB}` } } });
    expect(b.status).toBe(201);
    expect((await s.request({ method: 'DELETE', url: `/fhir/Observation/${b.body.id}`, token: tokens.patientB })).status).toBe(204);
    probes++;
    const takeover = await s.request({ method: 'PUT', url: `/fhir/Observation/${b.body.id}`, token: tokens.patientA, body: { resourceType: 'Observation', id: b.body.id, status: 'final', code: { text: 'mine' }, subject: { reference: `Patient/${ids.pA}` } } });
    expect(takeover.status).toBe(404);
    probes++;
    const v1 = await get(`/fhir/Observation/${b.body.id}/_history/1`, tokens.patientA);
    expect(v1.status).toBe(404);
    expect(v1.text).not.toContain('secret');
    // A version of someone else's content inside a resource now in one's own record stays hidden.
    const moved = await s.request({ method: 'POST', url: '/fhir/Observation', token: w.system, body: { resourceType: 'Observation', status: 'final', code: { text: 'about B' }, subject: { reference: `Patient/${ids.pB}` } } });
    await s.request({ method: 'PUT', url: `/fhir/Observation/${moved.body.id}`, token: w.system, body: { resourceType: 'Observation', id: moved.body.id, status: 'final', code: { text: 'about A' }, subject: { reference: `Patient/${ids.pA}` } } });
    probes++;
    const hist = await get(`/fhir/Observation/${moved.body.id}/_history`, tokens.patientA);
    expect(hist.status).toBe(200);
    expect(hist.body.total).toBe(1);
    expect(hist.text).not.toContain('about B');
    probes++;
    expect((await get(`/fhir/Observation/${moved.body.id}/_history/1`, tokens.patientA)).status).toBe(404);
  });

  it('attachments, labels and batch entries reveal nothing of hidden content', async () => {
    const { ids, tokens, s } = w;
    const bin = await s.request({ method: 'POST', url: '/fhir/Binary', token: tokens.patientB, body: 'B only', headers: { 'content-type': 'text/plain', 'x-security-context': `Patient/${ids.pB}` } });
    expect(bin.status).toBe(201);
    // Pointing a document at someone else's Binary with a wrong size: the same answer as for a Binary that does not exist.
    probes++;
    const att = (url: string) => ({ ...doc(ids.pA, { author: [{ reference: `Patient/${ids.pA}` }], category: [{ coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument', code: '90' }] }] }), content: [{ attachment: { contentType: 'text/plain', url, size: 1, hash: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } }] });
    const foreign = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token: tokens.patientA, body: att(`Binary/${bin.body.id}`) });
    const absent = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token: tokens.patientA, body: att('Binary/does-not-exist') });
    expect(foreign.status).toBe(422);
    expect(foreign.text.replaceAll(bin.body.id, 'X')).toBe(absent.text.replaceAll('does-not-exist', 'X'));
    probes++;
    expect((await get(`/fhir/Binary/${bin.body.id}`, tokens.patientA, { accept: 'text/plain' })).status).toBe(404);
    probes++;
    expect((await get(`/fhir/Binary/${bin.body.id}`, tokens.patientB, { accept: 'text/plain' })).status).toBe(200);
    // A batch: every entry is judged as its own request.
    probes++;
    const batch = await s.request({ method: 'POST', url: '/fhir', token: tokens.doc, body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `DocumentReference/${ids.d2}` } }, { request: { method: 'GET', url: `DocumentReference?patient=${ids.pA}` } }] } });
    expect(batch.body.entry[0].response.status).toMatch(/^404/);
    expect(JSON.stringify(batch.body.entry[1].resource.entry.map((e: any) => e.resource))).not.toContain(ids.d2);
    // Label injection: a professional cannot mask or embargo through a new version of someone else's document.
    probes++;
    expect((await s.request({ method: 'PUT', url: `/fhir/DocumentReference/${ids.d1}`, token: tokens.doc, body: { ...doc(ids.pA), id: ids.d1, securityLabel: [label('INVISIBLE_PATIENT')] } })).status).toBe(403);
  });

  it("an emergency token of a professional the patient blocked reaches nothing of theirs, even through another record's includes", async () => {
    const { ids, tokens, s } = w;
    const mine = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token: tokens.blocked, body: doc(ids.pB, { relatesTo: [{ code: 'appends', target: { reference: `DocumentReference/${ids.d1}` } }] }) });
    expect(mine.status, mine.text).toBe(201);
    const btg = await s.token({ fhirUser: `Practitioner/${ids.blocked}`, scope: 'user/*.rs', patient: ids.pA, purpose_of_use: 'BTG' });
    probes++;
    const res = await s.request({ method: 'GET', url: `/fhir/DocumentReference?patient=${ids.pB}&_include=DocumentReference:relatesto`, token: btg });
    // Their own document (which names d1) and nothing of A's record.
    expect(res.body.entry.map((e: any) => e.resource.id)).toEqual([mine.body.id]);
  });

  it("a patient's attempt on another record is audited for that record, and tells the patient nothing", async () => {
    const { ids, tokens } = w;
    probes++;
    expect((await get(`/fhir/DocumentReference/${ids.dB}`, tokens.patientA)).status).toBe(404);
    const mine = await get(`/fhir/AuditEvent?patient=Patient/${ids.pA}&_count=1000`, tokens.patientA);
    expect(mine.status).toBe(200);
    // Neither the hidden document nor anything of it (its description is 'B document').
    expect(mine.text).not.toContain(ids.dB);
    expect(mine.text).not.toContain('B document');
    probes++;
    const theirs = await get(`/fhir/AuditEvent?entity=DocumentReference/${ids.dB}`, tokens.patientB);
    expect(theirs.body.entry.some((e: any) => e.resource.agent.some((a: any) => a.who?.reference === `Patient/${ids.pA}`))).toBe(true);
  });

  it('tokens: expired, for another audience or issuer, forged, or for another patient', async () => {
    const { ids, tokens, s } = w;
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ scope: 'system/*.cruds' }).setProtectedHeader({ alg: 'ES256' }).setIssuer('urn:carnet:local-issuer').setAudience('urn:carnet:local').setExpirationTime('1h').sign(privateKey);
    const expired = await s.token({ fhirUser: `Patient/${ids.pA}`, scope: 'user/*.rs', expiresIn: '-1h' });
    for (const token of [forged, expired, 'x.y.z']) {
      probes++;
      const res = await get(`/fhir/Patient/${ids.pA}`, token);
      expect(res.status).toBe(401);
      expect(res.text).not.toContain('1800101000001');
    }
    probes++;
    const other = await s.token({ fhirUser: `Patient/${ids.pB}`, scope: 'patient/*.rs', patient: ids.pA });
    expect((await get(`/fhir/DocumentReference/${ids.d1}`, other)).status).toBe(404);
    expect(tokens).toBeDefined();
  });
});
