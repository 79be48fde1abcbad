import { expect, it } from 'vitest';
import { describeEngines, useServer, versionsButAudit, type TestServer } from './harness.js';

const INS = 'urn:oid:1.2.250.1.213.1.4.8';

describeEngines('batch and transaction Bundles', (engine) => {
  let s: TestServer;
  let token: string;
  const versions = () => versionsButAudit(s, token);
  const post = (body: unknown, headers?: Record<string, string>) => s.request({ method: 'POST', url: '/fhir', token, body, headers });
  useServer(engine, (server, admin) => {
    s = server;
    token = admin;
  }, { CARNET_MAX_BUNDLE_ENTRIES: '20' });

  it('commits a transaction and rewrites urn:uuid references, attachment URLs and contained references', async () => {
    const res = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:6b6f1b2a-0000-4000-8000-000000000003', resource: { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: 'urn:uuid:6b6f1b2a-0000-4000-8000-000000000001' } }, request: { method: 'POST', url: 'Observation' } },
        { fullUrl: 'urn:uuid:6b6f1b2a-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', identifier: [{ system: INS, value: '1900112345678' }] }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: 'urn:uuid:6b6f1b2a-0000-4000-8000-000000000002', resource: { resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from('bonjour').toString('base64') }, request: { method: 'POST', url: 'Binary' } },
        {
          resource: {
            resourceType: 'DocumentReference', status: 'current',
            contained: [{ resourceType: 'Practitioner', id: 'auteur', name: [{ family: 'Médecin' }] }],
            author: [{ reference: '#auteur' }],
            subject: { reference: 'urn:uuid:6b6f1b2a-0000-4000-8000-000000000001' },
            content: [{ attachment: { contentType: 'text/plain', url: 'urn:uuid:6b6f1b2a-0000-4000-8000-000000000002' } }],
          },
          request: { method: 'POST', url: 'DocumentReference' },
        },
        { request: { method: 'GET', url: `Patient?identifier=${INS}|1900112345678` } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    const [obs, pat, bin, doc, search] = res.body.entry;
    expect(pat.response.status).toBe('201 Created');
    expect(obs.resource.subject.reference).toBe(`Patient/${pat.resource.id}`);
    expect(doc.resource.subject.reference).toBe(`Patient/${pat.resource.id}`);
    expect(doc.resource.author[0].reference).toBe('#auteur');
    expect(doc.resource.content[0].attachment.url).toBe(`${s.baseUrl}/Binary/${bin.resource.id}`);
    expect(search.response.status).toBe('200 OK');
    expect(search.resource.total).toBe(1);
    expect((await s.request({ method: 'GET', url: `/fhir/Observation/${obs.resource.id}`, token })).body.subject.reference).toBe(`Patient/${pat.resource.id}`);
  });

  it('writes nothing when one entry fails, and names the entry', async () => {
    const before = await versions();
    const res = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', name: [{ family: 'Premier' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final' }, request: { method: 'POST', url: 'Observation' } },
      ],
    });
    expect(res.status).toBe(422);
    expect(res.body.issue[0].diagnostics).toContain('Bundle.entry[1]');
    expect(await versions()).toBe(before);
  });

  it('resolves a conditional reference, and refuses one that matches nothing, writing nothing', async () => {
    await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', identifier: [{ system: INS, value: '2770599999999' }] } });
    const ok = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: { resourceType: 'Condition', subject: { reference: `Patient?identifier=${INS}|2770599999999` }, code: { text: 'asthme' } }, request: { method: 'POST', url: 'Condition' } }],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.entry[0].resource.subject.reference).toMatch(/^Patient\/[^?]+$/);
    const before = await versions();
    const missing = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Condition', subject: { reference: `Patient?identifier=${INS}|0000000000000` } }, request: { method: 'POST', url: 'Condition' } },
      ],
    });
    expect(missing.status).toBe(412);
    expect(await versions()).toBe(before);
  });

  it('applies deletes before creates and honours ifNoneExist and ifMatch per entry', async () => {
    const { body: old } = await s.request({ method: 'POST', url: '/fhir/Organization', token, body: { resourceType: 'Organization', name: 'Ancienne' } });
    const { body: keep } = await s.request({ method: 'POST', url: '/fhir/Organization', token, body: { resourceType: 'Organization', name: 'Gardée', identifier: [{ system: 'https://finess.esante.gouv.fr', value: '750712184' }] } });
    const res = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { resource: { resourceType: 'Organization', name: 'Doublon', identifier: [{ system: 'https://finess.esante.gouv.fr', value: '750712184' }] }, request: { method: 'POST', url: 'Organization', ifNoneExist: 'identifier=https://finess.esante.gouv.fr|750712184' } },
        { resource: { ...keep, name: 'Renommée' }, request: { method: 'PUT', url: `Organization/${keep.id}`, ifMatch: 'W/"1"' } },
        { request: { method: 'DELETE', url: `Organization/${old.id}` } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '200 OK', '204 No Content']);
    expect(res.body.entry[0].resource.id).toBe(keep.id);
    expect((await s.request({ method: 'GET', url: `/fhir/Organization/${old.id}`, token })).status).toBe(410);
    const stale = await post({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { ...keep, name: 'Trop tard' }, request: { method: 'PUT', url: `Organization/${keep.id}`, ifMatch: 'W/"1"' } }] });
    expect(stale.status).toBe(412);
  });

  it('a conditional create that matches stands for the existing resource: references to its fullUrl point there', async () => {
    const identifier = [{ system: 'https://finess.esante.gouv.fr', value: '130784234' }];
    const { body: existing } = await s.request({ method: 'POST', url: '/fhir/Organization', token, body: { resourceType: 'Organization', name: 'Existante', identifier } });
    const res = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:0b4f2c8e-7d7e-4c44-9d55-3e2a4b8e0001', resource: { resourceType: 'Organization', name: 'Nouvelle', identifier }, request: { method: 'POST', url: 'Organization', ifNoneExist: `identifier=${identifier[0].system}|${identifier[0].value}` } },
        { resource: { resourceType: 'Practitioner', name: [{ family: 'Martin' }] }, request: { method: 'POST', url: 'Practitioner' } },
        { resource: { resourceType: 'PractitionerRole', organization: { reference: 'urn:uuid:0b4f2c8e-7d7e-4c44-9d55-3e2a4b8e0001' } }, request: { method: 'POST', url: 'PractitionerRole' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '201 Created', '201 Created']);
    const role = await s.request({ method: 'GET', url: res.body.entry[2].response.location.replace(/^http:\/\/carnet\.test/, '').replace(/\/_history\/.*$/, ''), token });
    expect(role.body.organization.reference).toBe(`Organization/${existing.id}`);
    const orgs = await s.request({ method: 'GET', url: `/fhir/Organization?identifier=${identifier[0].system}|${identifier[0].value}`, token });
    expect(orgs.body.total).toBe(1);

    // Criteria that match two resources cannot stand for one: 412, naming the entry, nothing written.
    await s.request({ method: 'POST', url: '/fhir/Organization', token, body: { resourceType: 'Organization', name: 'Homonyme', identifier } });
    const before = await versions();
    const ambiguous = await post({
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { resource: { resourceType: 'Practitioner', name: [{ family: 'Petit' }] }, request: { method: 'POST', url: 'Practitioner' } },
        { fullUrl: 'urn:uuid:0b4f2c8e-7d7e-4c44-9d55-3e2a4b8e0002', resource: { resourceType: 'Organization', identifier }, request: { method: 'POST', url: 'Organization', ifNoneExist: `identifier=${identifier[0].system}|${identifier[0].value}` } },
      ],
    });
    expect(ambiguous.status).toBe(412);
    expect(ambiguous.body.issue[0].diagnostics).toMatch(/^Bundle\.entry\[1\]: If-None-Exist matched several Organization resources/);
    expect(await versions()).toBe(before);
  });

  it('refuses a Bundle over the entry limit with 413 and writes nothing', async () => {
    const before = await versions();
    const entry = Array.from({ length: 21 }, () => ({ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }));
    const res = await post({ resourceType: 'Bundle', type: 'transaction', entry });
    expect(res.status).toBe(413);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(await versions()).toBe(before);
  });

  it('runs batch entries independently, each with its own status', async () => {
    const res = await post({
      resourceType: 'Bundle', type: 'batch',
      entry: [
        { resource: { resourceType: 'Patient', name: [{ family: 'Lot' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final' }, request: { method: 'POST', url: 'Observation' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
        { request: { method: 'GET', url: 'MedicationRequest/1' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    expect(res.body.entry.map((e: any) => e.response.status.slice(0, 3))).toEqual(['201', '422', '404', '404']);
    expect(res.body.entry[1].response.outcome.resourceType).toBe('OperationOutcome');
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${res.body.entry[0].resource.id}`, token })).status).toBe(200);
  });

  it('checks scopes entry by entry', async () => {
    const readOnly = await s.token({ fhirUser: 'Practitioner/p2', scope: 'user/*.rs' });
    const before = await versions();
    const res = await s.request({ method: 'POST', url: '/fhir', token: readOnly, body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }] } });
    expect(res.status).toBe(403);
    expect(await versions()).toBe(before);
  });
});
