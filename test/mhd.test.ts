import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEngines, startServer, versionsButAudit, type TestServer } from './harness.js';
import { INS, LISTS, TRE_A03, V3, ARCHIVED, FORMAT, SCT, EXAMPLE, urn, uniqueId, sha1, documentReference, CONTENTS, provideBundle } from './mhd-bundles.js';

describeEngines('IHE MHD Document Recipient and Responder (ITI-65, ITI-66, ITI-67), PDSm', (engine) => {
  let s: TestServer;
  let token: string;
  let patientId: string;
  let practitionerId: string;
  const subject = `Patient?identifier=${INS}|1900112345678`;
  const post = (body: unknown, t = token) => s.request({ method: 'POST', url: '/fhir', token: t, body });
  const get = async (url: string, t = token) => (await s.request({ method: 'GET', url: `/fhir/${url}`, token: t })).body;
  const versions = () => versionsButAudit(s, token);
  const search = async (query: string) => {
    const body = await get(`DocumentReference?${query}`);
    expect(body.resourceType, JSON.stringify(body)).toBe('Bundle');
    return body.entry?.map((e: any) => e.resource.id).sort() ?? [];
  };

  beforeAll(async () => {
    s = await startServer(engine);
    token = await s.token({ scope: 'system/*.cruds' });
    patientId = (await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', identifier: [{ system: INS, value: '1900112345678' }], name: [{ family: 'Martin', given: ['Léa'] }] } })).body.id;
    practitionerId = (await s.request({ method: 'POST', url: '/fhir/Practitioner', token, body: { resourceType: 'Practitioner', name: [{ family: 'Durand', given: ['Paul'] }] } })).body.id;
    await s.request({ method: 'POST', url: '/fhir/Organization', token, body: { resourceType: 'Organization', name: 'CH Test', identifier: [{ system: 'https://finess.esante.gouv.fr', value: '750712184' }] } });
  });
  afterAll(async () => s?.close());

  describe('ITI-65 then ITI-67 and ITI-66', () => {
    let ids: string[] = [];
    let masters: string[] = [];
    beforeAll(async () => {
      const bundle = provideBundle(subject, [
        { type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00', end: '2026-06-01T10:00:00+02:00', content: CONTENTS[0] },
        { type: '18748-4', category: '31', start: '2026-03-15T09:00:00+01:00', archived: true, content: CONTENTS[1] },
        { type: '11502-2', category: '10', start: '2025-12-01T08:00:00+01:00', author: `Practitioner/${practitionerId}`, content: CONTENTS[2] },
      ], { folder: true });
      masters = bundle.entry.filter((e: any) => e.resource.resourceType === 'DocumentReference').map((e: any) => e.resource.masterIdentifier.value);
      const res = await post(bundle);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      ids = res.body.entry.filter((e: any) => e.resource?.resourceType === 'DocumentReference').map((e: any) => e.resource.id);
      expect(ids).toHaveLength(3);
    });

    it('serves each document\'s bytes, identical to those submitted, at its attachment.url (ITI-68)', async () => {
      for (const [i, id] of ids.entries()) {
        const doc = await get(`DocumentReference/${id}`);
        const res = await s.app.http.inject({ method: 'GET', url: doc.content[0].attachment.url.replace(s.baseUrl, '/fhir'), headers: { authorization: `Bearer ${token}`, accept: '*/*' } });
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toBe('text/plain');
        expect(res.rawPayload.equals(CONTENTS[i])).toBe(true);
        expect(doc.content[0].attachment.hash).toBe(sha1(CONTENTS[i]));
      }
    });

    it('stores the documents with their references resolved and their attachments pointing at the stored Binaries', async () => {
      const doc = await get(`DocumentReference/${ids[0]}`);
      expect(doc.subject.reference).toBe(`Patient/${patientId}`);
      expect(doc.content[0].attachment.url).toMatch(new RegExp(`^${s.baseUrl}/Binary/[^/]+$`));
      expect((await s.request({ method: 'GET', url: doc.content[0].attachment.url.replace('http://carnet.test', ''), token })).status).toBe(200);
    });

    it('finds them by every ITI-67 parameter', async () => {
      const all = [...ids].sort();
      const [cr, img, bio] = ids;
      expect(await search(`patient=Patient/${patientId}&status=current`)).toEqual(all);
      expect(await search(`patient.identifier=${INS}|1900112345678&status=current`)).toEqual(all);
      expect(await search(`type=http://loinc.org|18748-4`)).toEqual([img]);
      expect(await search(`category=${TRE_A03}|10&patient=Patient/${patientId}`)).toEqual([cr, bio].sort());
      expect(await search(`date=ge2026-06-12&patient=Patient/${patientId}`)).toEqual(all);
      // A period without an end is open: it matches ge anything after its start, so lt tells them apart.
      expect(await search(`period=lt2026-01-01&patient=Patient/${patientId}`)).toEqual([bio]);
      expect(await search(`period-start=lt2026-01-01&patient=Patient/${patientId}`)).toEqual([bio]);
      expect(await search(`period-end=le2026-06-01T10:00:00%2B02:00&patient=Patient/${patientId}`)).toEqual([cr]);
      expect(await search(`setting=${SCT}|394802001&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`facility=${SCT}|22232009&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`event=${SCT}|71388002&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`security-label=${V3}|N&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`format=${FORMAT}|urn:ihe:iti:xds:2017:mimeTypeSufficient&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`related=Encounter/sejour-1&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`creation=2026-06-12&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`identifier=urn:ietf:rfc:3986|${masters[1]}`)).toEqual([img]);
      expect(await search(`author.family=Durand&patient=Patient/${patientId}`)).toEqual([bio]);
      expect(await search(`author.given=Paul`)).toEqual([bio]);
      // The other two have their author contained (PDSm): chains evaluate inside contained resources.
      expect(await search(`author.family=Contenu&patient=Patient/${patientId}`)).toEqual([cr, img].sort());
      expect(await search(`author.identifier=urn:oid:1.2.250.1.71.4.2.1|810000000001&patient.identifier=${INS}|1900112345678`)).toEqual([cr, img].sort());
      expect(await search(`author:Practitioner.given=claire&patient=Patient/${patientId}`)).toEqual([cr, img].sort());
      expect(await search(`author:Patient.given=claire&patient=Patient/${patientId}`)).toEqual([]);
      expect(await search(`isArchived=true&patient=Patient/${patientId}`)).toEqual([img]);
      expect(await search(`isArchived:not=true&patient=Patient/${patientId}`)).toEqual([cr, bio].sort());
    });

    it('expands the French value sets for :in', async () => {
      const all = [...ids].sort();
      expect(await search(`type:in=https://mos.esante.gouv.fr/NOS/JDV_J07-XdsTypeCode-CISIS/FHIR/JDV-J07-XdsTypeCode-CISIS&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`category:in=https://mos.esante.gouv.fr/NOS/JDV_J06-XdsClassCode-CISIS/FHIR/JDV-J06-XdsClassCode-CISIS&patient=Patient/${patientId}`)).toEqual(all);
      expect(await search(`security-label:in=https://mos.esante.gouv.fr/NOS/JDV_J08-XdsConfidentialityCode-CISIS/FHIR/JDV-J08-XdsConfidentialityCode-CISIS&patient=Patient/${patientId}`)).toEqual(all);
    });

    it('finds the SubmissionSet and the Folder (ITI-66)', async () => {
      const sets = await get(`List?code=${LISTS}|submissionset&patient=Patient/${patientId}`);
      expect(sets.total ?? sets.entry.length).toBe(1);
      const set = sets.entry[0].resource;
      expect(set.entry.map((e: any) => e.item.reference).sort()).toEqual(ids.map((id) => `DocumentReference/${id}`).sort());
      const folders = await get(`List?code=${LISTS}|folder&subject=Patient/${patientId}`);
      expect(folders.entry).toHaveLength(1);
    });
  });

  describe('replacement', () => {
    it('supersedes the replaced document from relatesTo alone, in the same commit', async () => {
      const first = await post(provideBundle(subject, [{ type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00' }]));
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const oldId = first.body.entry[1].resource.id;
      const res = await post(provideBundle(subject, [{ type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00', relatesTo: `DocumentReference/${oldId}` }]));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const newId = res.body.entry[1].resource.id;
      const old = await get(`DocumentReference/${oldId}`);
      expect(old.status).toBe('superseded');
      expect(old.meta.versionId).toBe('2');
      expect(await search(`relatesto=DocumentReference/${oldId}`)).toEqual([newId]);
      expect(await search(`_id=${oldId},${newId}&status=current`)).toEqual([newId]);
    });

    it('refuses to replace a document that is not current, writing nothing', async () => {
      const first = await post(provideBundle(subject, [{ type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00' }]));
      const oldId = first.body.entry[1].resource.id;
      expect((await post(provideBundle(subject, [{ type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00', relatesTo: `DocumentReference/${oldId}` }]))).status).toBe(200);
      const before = await versions();
      const again = await post(provideBundle(subject, [{ type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00', relatesTo: `DocumentReference/${oldId}` }]));
      expect(again.status).toBe(422);
      expect(again.body.issue[0].expression[0]).toMatch(/relatesTo\[0\]\.target\.reference$/);
      expect((await post(provideBundle(subject, [{ type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00', relatesTo: 'DocumentReference/nope' }]))).status).toBe(422);
      expect(await versions()).toBe(before);
    });

    describe('the PDSM4DMP replacement bundle (FHIRPath PATCH entry)', () => {
      const example = () => JSON.parse(readFileSync(EXAMPLE, 'utf8'));
      beforeAll(async () => {
        await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', identifier: [{ system: INS, value: '123456789012345' }] } });
        const old = documentReference({ type: '11488-4', category: '11', start: '2026-05-01T09:00:00+02:00' }, `Patient?identifier=${INS}|123456789012345`, 'https://ged.example.fr/doc-x');
        const res = await post({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { ...old, id: 'doc-x-id' }, request: { method: 'PUT', url: 'DocumentReference/doc-x-id' } }] });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      });

      it('is refused as published: PDSm requires the custodian it lacks', async () => {
        const before = await versions();
        const res = await post(example());
        expect(res.status).toBe(422);
        expect(res.body.issue.map((i: any) => i.expression?.[0])).toContain('Bundle.entry[1].resource.custodian');
        expect(await versions()).toBe(before);
      });

      it('with a custodian, stores the new version and patches the old one to superseded', async () => {
        const bundle = example();
        bundle.entry[1].resource.custodian = { reference: 'Organization?identifier=https://finess.esante.gouv.fr|750712184' };
        const res = await post(bundle);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created', '200 OK', '201 Created']);
        const old = await get('DocumentReference/doc-x-id');
        expect(old.status).toBe('superseded');
        expect(old.meta.versionId).toBe('2');
        const newDoc = res.body.entry[1].resource;
        expect(newDoc.relatesTo[0].target.reference).toBe('DocumentReference/doc-x-id');
        expect(newDoc.content[0].attachment.url).toBe(`${s.baseUrl}/Binary/${res.body.entry[3].resource.id}`);
      });
    });
  });

  describe('invalid ITI-65 variants are refused with nothing written', () => {
    const doc = { type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00' };

    it('a missing masterIdentifier, with every problem of every entry listed', async () => {
      const before = await versions();
      const res = await post(provideBundle(subject, [{ ...doc, masterIdentifier: null }, { ...doc, custodian: false }]));
      expect(res.status).toBe(422);
      const where = res.body.issue.map((i: any) => i.expression?.[0]);
      expect(where).toContain('Bundle.entry[1].resource.masterIdentifier');
      expect(where).toContain('Bundle.entry[3].resource.custodian');
      expect(new Set(where).size).toBe(where.length);
      expect(await versions()).toBe(before);
    });

    it('an attachment hash that is not the SHA-1 of its bytes', async () => {
      const before = await versions();
      const res = await post(provideBundle(subject, [{ ...doc, wrongHash: true }]));
      expect(res.status).toBe(422);
      expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1].resource.content[0].attachment.hash']);
      expect(await versions()).toBe(before);
    });

    it('an unresolved conditional reference', async () => {
      const before = await versions();
      const res = await post(provideBundle(`Patient?identifier=${INS}|0000000000000`, [doc]));
      expect(res.status).toBe(412);
      expect(await versions()).toBe(before);
    });

    it('a masterIdentifier already stored, or twice in the Bundle', async () => {
      const masterIdentifier = uniqueId();
      expect((await post(provideBundle(subject, [{ ...doc, masterIdentifier }]))).status).toBe(200);
      const before = await versions();
      const stored = await post(provideBundle(subject, [{ ...doc, masterIdentifier }]));
      expect(stored.status).toBe(409);
      expect(stored.body.issue[0]).toMatchObject({ code: 'duplicate', expression: ['Bundle.entry[1].resource.masterIdentifier'] });
      const twice = uniqueId();
      const inBundle = await post(provideBundle(subject, [{ ...doc, masterIdentifier: twice }, { ...doc, masterIdentifier: twice }]));
      expect(inBundle.status).toBe(409);
      expect(inBundle.body.issue[0].expression).toEqual(['Bundle.entry[3].resource.masterIdentifier']);
      expect(await versions()).toBe(before);
    });

    it('the same document submitted concurrently is stored once; the other submissions are duplicates', async () => {
      const masterIdentifier = uniqueId();
      const results = await Promise.all(Array.from({ length: 4 }, () => post(provideBundle(subject, [{ ...doc, masterIdentifier }]))));
      expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
      for (const r of results.filter((x) => x.status === 409)) expect(r.body.issue[0].code).toBe('duplicate');
      expect(await search(`identifier=${masterIdentifier.system}|${masterIdentifier.value}`)).toHaveLength(1);
    });

    it('an attachment that is not in the Bundle, a document the SubmissionSet does not list, two SubmissionSets', async () => {
      const before = await versions();
      const bundle: any = provideBundle(subject, [doc, doc]);
      bundle.entry[1].resource.content[0].attachment.url = 'Binary/elsewhere';
      bundle.entry[0].resource.entry.pop();
      bundle.entry.push({ ...bundle.entry[0], fullUrl: urn() });
      const res = await post(bundle);
      expect(res.status).toBe(422);
      const where = res.body.issue.map((i: any) => i.expression?.[0]);
      expect(where).toEqual(expect.arrayContaining(['Bundle.entry[1].resource.content[0].attachment.url', 'Bundle.entry[0].resource.entry', 'Bundle.entry[5].resource.code']));
      expect(await versions()).toBe(before);
    });
  });

  describe('documents from the patient', () => {
    const own = (pid: string, category = '90') => ({
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:7d0c0000-0000-4000-8000-000000000001',
          resource: {
            resourceType: 'DocumentReference', status: 'current',
            masterIdentifier: uniqueId(),
            type: { coding: [{ system: 'http://loinc.org', code: '11369-6' }] },
            category: [{ coding: [{ system: TRE_A03, code: category }] }],
            subject: { reference: `Patient/${pid}` },
            author: [{ reference: `Patient/${patientId}` }],
            content: [{ attachment: { contentType: 'text/plain', url: 'urn:uuid:7d0c0000-0000-4000-8000-000000000002' } }],
          },
          request: { method: 'POST', url: 'DocumentReference' },
        },
        { fullUrl: 'urn:uuid:7d0c0000-0000-4000-8000-000000000002', resource: { resourceType: 'Binary', contentType: 'text/plain', securityContext: { reference: `Patient/${pid}` }, data: Buffer.from('mes vaccins').toString('base64') }, request: { method: 'POST', url: 'Binary' } },
      ],
    });

    // The Binary is the patient's through Binary.securityContext (the blob storage work gives a Binary its compartments).
    it('accepts a document (DocumentReference + Binary) the patient adds to their own record', async () => {
      const patient = await s.token({ fhirUser: `Patient/${patientId}`, scope: 'user/*.cruds' });
      const ok = await post(own(patientId), patient);
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.entry[0].resource.author[0].reference).toBe(`Patient/${patientId}`);
    });

    it('refuses a document the patient adds for someone else (403) or without class 90 (422)', async () => {
      const patient = await s.token({ fhirUser: `Patient/${patientId}`, scope: 'user/*.cruds' });
      const other = (await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Autre' }] } })).body.id;
      const before = await versions();
      const forOther = await post(own(other), patient);
      expect(forOther.status).toBe(403);
      expect(forOther.body.issue[0].diagnostics).toContain('own record');
      const wrongClass = await post(own(patientId, '10'), patient);
      expect(wrongClass.status).toBe(422);
      expect(wrongClass.body.issue[0].expression).toEqual(['Bundle.entry[0].resource.category']);
      expect(await versions()).toBe(before);
    });
  });

  describe('FHIRPath Patch over HTTP', () => {
    it('patches with a Parameters body and answers 422 for what it cannot do', async () => {
      const body = documentReference({ type: '11488-4', category: '10', start: '2026-06-01T09:00:00+02:00' }, `Patient/${patientId}`, 'https://ged.example.fr/1');
      const created = (await s.request({ method: 'POST', url: '/fhir/DocumentReference', token, body })).body;
      const patch = (parameter: unknown[]) => s.request({ method: 'PATCH', url: `/fhir/DocumentReference/${created.id}`, token, body: { resourceType: 'Parameters', parameter } });
      const op = (...part: unknown[]) => ({ name: 'operation', part });
      const res = await patch([
        op({ name: 'type', valueCode: 'add' }, { name: 'path', valueString: 'DocumentReference' }, { name: 'name', valueString: 'securityLabel' }, { name: 'value', valueCodeableConcept: { coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument', code: 'MASQUE_PS' }] } }),
        op({ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'DocumentReference.content.attachment.title' }, { name: 'value', valueString: 'Titre corrigé' }),
        op({ name: 'type', valueCode: 'add' }, { name: 'path', valueString: 'DocumentReference' }, { name: 'name', valueString: 'extension' }, { name: 'value', part: [{ name: 'url', valueUri: ARCHIVED }, { name: 'value', valueBoolean: true }] }),
      ]);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.securityLabel.map((l: any) => l.coding[0].code)).toEqual(['N', 'MASQUE_PS']);
      expect(res.body.content[0].attachment.title).toBe('Titre corrigé');
      expect(await search(`isArchived=true&_id=${created.id}`)).toEqual([created.id]);
      const bad = await patch([op({ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'DocumentReference.securityLabel' }, { name: 'value', valueCodeableConcept: { text: 'x' } })]);
      expect(bad.status).toBe(422);
      expect(bad.body.issue[0].diagnostics).toContain('designates 2 elements');
      const unknown = await patch([op({ name: 'type', valueCode: 'transmogrify' }, { name: 'path', valueString: 'DocumentReference.status' })]);
      expect(unknown.status).toBe(422);
    });
  });

  it('declares the MHD actors it implements and FHIRPath Patch', async () => {
    const cs = (await s.request({ method: 'GET', url: '/fhir/metadata' })).body;
    expect(cs.instantiates).toEqual(expect.arrayContaining([
      'https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient',
      'https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder',
    ]));
    expect(cs.patchFormat).toContain('application/fhir+json');
    const params = cs.rest[0].resource.find((r: any) => r.type === 'DocumentReference').searchParam.map((p: any) => p.name);
    expect(params).toEqual(expect.arrayContaining(['period-start', 'period-end', 'isArchived', 'creation']));
  });
});
