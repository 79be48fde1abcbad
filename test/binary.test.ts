import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from './harness.js';

const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(300 * 1024, 7), Buffer.from('\n%%EOF')]);

describeEngines('Binary content and document attachments', (engine) => {
  let s: TestServer;
  let token: string;
  const raw = (method: string, url: string, body: Buffer, contentType: string, headers: Record<string, string> = {}) =>
    s.app.http.inject({ method: method as any, url, payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': contentType, ...headers } });
  useServer(engine, (server, admin) => {
    s = server;
    token = admin;
  }, { CARNET_BINARY_LIMIT: String(1024 * 1024) });

  it('stores raw content and serves the same bytes, or the FHIR Binary with base64 data', async () => {
    const created = await raw('POST', '/fhir/Binary', pdf, 'application/pdf');
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    expect(created.json().data).toBeUndefined();
    const bytes = await s.app.http.inject({ method: 'GET', url: `/fhir/Binary/${id}`, headers: { authorization: `Bearer ${token}`, accept: 'application/pdf' } });
    expect(bytes.statusCode).toBe(200);
    expect(bytes.headers['content-type']).toBe('application/pdf');
    expect(bytes.rawPayload.equals(pdf)).toBe(true);
    const fhir = await s.request({ method: 'GET', url: `/fhir/Binary/${id}`, token, headers: { accept: 'application/fhir+json' } });
    expect(fhir.body.resourceType).toBe('Binary');
    expect(fhir.body.contentType).toBe('application/pdf');
    expect(Buffer.from(fhir.body.data, 'base64').equals(pdf)).toBe(true);
    expect(fhir.body.meta.extension).toBeUndefined();
  });

  it('lists Binaries in search and history without their content, tagged SUBSETTED', async () => {
    const created = await raw('POST', '/fhir/Binary', Buffer.from('contenu lourd'), 'text/plain');
    const id = created.json().id;
    const found = await s.request({ method: 'GET', url: `/fhir/Binary?_id=${id}`, token });
    const entry = found.body.entry[0].resource;
    expect(entry.data).toBeUndefined();
    expect(entry.meta.tag.map((t: any) => t.code)).toContain('SUBSETTED');
    expect(entry.meta.extension).toBeUndefined();
    const hist = await s.request({ method: 'GET', url: `/fhir/Binary/${id}/_history`, token });
    expect(hist.body.entry[0].resource.data).toBeUndefined();
    const vread = await s.request({ method: 'GET', url: `/fhir/Binary/${id}/_history/1`, token, headers: { accept: 'application/fhir+json' } });
    expect(Buffer.from(vread.body.data, 'base64').toString()).toBe('contenu lourd');
  });

  it('moves base64 data of a FHIR Binary into the blob store', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Binary', token, body: { resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from('bonjour').toString('base64') } });
    expect(created.status).toBe(201);
    const stored = await s.app.store.read('Binary', created.body.id);
    expect(stored?.resource?.data).toBeUndefined();
    const text = await s.app.http.inject({ method: 'GET', url: `/fhir/Binary/${created.body.id}`, headers: { authorization: `Bearer ${token}` } });
    expect(text.body).toBe('bonjour');
    expect(text.headers['x-content-type-options']).toBe('nosniff');
  });

  it('refuses content over the limit with 413 and keeps nothing', async () => {
    const before = (await s.request({ method: 'GET', url: '/fhir/Binary/_history', token })).body.total;
    const big = await raw('POST', '/fhir/Binary', Buffer.alloc(1024 * 1024 + 1), 'application/octet-stream');
    expect(big.statusCode).toBe(413);
    expect(big.json().resourceType).toBe('OperationOutcome');
    expect((await s.request({ method: 'GET', url: '/fhir/Binary/_history', token })).body.total).toBe(before);
  });

  it('checks attachment.size and attachment.hash against the bytes: a mismatch is 422, nothing written', async () => {
    const bin = (await raw('POST', '/fhir/Binary', pdf, 'application/pdf')).json();
    const doc = (size: number, hash: string) => ({
      resourceType: 'DocumentReference', status: 'current',
      content: [{ attachment: { contentType: 'application/pdf', url: `${s.baseUrl}/Binary/${bin.id}`, size, hash } }],
    });
    const sha1 = createHash('sha1').update(pdf).digest('base64');
    const ok = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token, body: doc(pdf.length, sha1) });
    expect(ok.status).toBe(201);
    const before = (await s.request({ method: 'GET', url: '/fhir/DocumentReference/_history', token })).body.total;
    const badHash = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token, body: doc(pdf.length, createHash('sha1').update('other').digest('base64')) });
    expect(badHash.status).toBe(422);
    expect(badHash.body.issue[0].expression).toEqual(['DocumentReference.content[0].attachment.hash']);
    const badSize = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token, body: doc(12, sha1) });
    expect(badSize.status).toBe(422);
    expect(badSize.body.issue[0].expression).toEqual(['DocumentReference.content[0].attachment.size']);
    expect((await s.request({ method: 'GET', url: '/fhir/DocumentReference/_history', token })).body.total).toBe(before);
  });

  it('takes raw content only for Binary', async () => {
    const res = await raw('POST', '/fhir/Patient', Buffer.from('x'), 'application/pdf');
    expect(res.statusCode).toBe(415);
  });

  it('lets a patient read the Binary of their own document, not anyone else\'s', async () => {
    const { body: patient } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient' } });
    const mine = (await raw('POST', '/fhir/Binary', Buffer.from('mon compte rendu'), 'text/plain', { 'x-security-context': `Patient/${patient.id}` })).json();
    const theirs = (await raw('POST', '/fhir/Binary', Buffer.from('pas à moi'), 'text/plain', { 'x-security-context': 'Patient/someone-else' })).json();
    const ptoken = await s.token({ fhirUser: `Patient/${patient.id}`, scope: 'patient/*.rs', patient: patient.id });
    const get = (id: string) => s.app.http.inject({ method: 'GET', url: `/fhir/Binary/${id}`, headers: { authorization: `Bearer ${ptoken}` } });
    expect((await get(mine.id)).body).toBe('mon compte rendu');
    expect((await get(theirs.id)).statusCode).toBe(404);
  });
});
