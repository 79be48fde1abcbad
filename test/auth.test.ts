import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEngines, startServer, type TestServer } from './harness.js';

describeEngines('authentication and scopes', (engine) => {
  let s: TestServer;
  let admin: string;
  let p1Id: string;
  let p2ObsId: string;
  beforeAll(async () => {
    s = await startServer(engine);
    admin = await s.token({ scope: 'system/*.cruds' });
    p1Id = (await s.request({ method: 'POST', url: '/fhir/Patient', token: admin, body: { resourceType: 'Patient', name: [{ family: 'Un' }] } })).body.id;
    const p2Id = (await s.request({ method: 'POST', url: '/fhir/Patient', token: admin, body: { resourceType: 'Patient', name: [{ family: 'Deux' }] } })).body.id;
    p2ObsId = (await s.request({ method: 'POST', url: '/fhir/Observation', token: admin, body: { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient/${p2Id}` } } })).body.id;
  });
  afterAll(async () => s?.close());

  it('refuses every data request without a token: 401, WWW-Authenticate, OperationOutcome', async () => {
    for (const [method, url] of [['GET', `/fhir/Patient/${p1Id}`], ['GET', '/fhir/Patient'], ['POST', '/fhir/Patient'], ['GET', '/fhir/_history'], ['POST', '/fhir/Patient/$validate']]) {
      const res = await s.request({ method, url, body: method === 'POST' ? { resourceType: 'Patient' } : undefined });
      expect(res.status, `${method} ${url}`).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('refuses a forged, expired or foreign token', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ scope: 'user/*.cruds' }).setProtectedHeader({ alg: 'ES256' }).setIssuer('urn:carnet:local-issuer').setAudience('urn:carnet:local').setExpirationTime('1h').sign(privateKey);
    const expired = await s.token({ fhirUser: 'Practitioner/p1', scope: 'user/*.cruds', expiresIn: '-1h' });
    for (const token of [forged, expired, 'not-a-jwt', `${admin}x`]) {
      const res = await s.request({ method: 'GET', url: `/fhir/Patient/${p1Id}`, token });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toContain('invalid_token');
      expect(res.text).not.toContain(token);
    }
  });

  it('serves metadata, SMART configuration, health and readiness without a token', async () => {
    expect((await s.request({ method: 'GET', url: '/fhir/metadata' })).status).toBe(200);
    expect((await s.request({ method: 'GET', url: '/.well-known/smart-configuration' })).body.capabilities).toContain('permission-v2');
    expect((await s.request({ method: 'GET', url: '/health' })).status).toBe(200);
    const ready = await s.request({ method: 'GET', url: '/ready' });
    expect(ready.status).toBe(200);
    expect(ready.body.store).toBe(engine);
  });

  it('enforces scopes per type and interaction with 403', async () => {
    // System clients: scopes alone decide (a practitioner's reach also depends on the patient's consent, see access tests).
    const readOnly = await s.token({ scope: 'system/Observation.rs' });
    expect((await s.request({ method: 'GET', url: `/fhir/Observation/${p2ObsId}`, token: readOnly })).status).toBe(200);
    const create = await s.request({ method: 'POST', url: '/fhir/Observation', token: readOnly, body: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } });
    expect(create.status).toBe(403);
    expect(create.body.issue[0].code).toBe('forbidden');
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${p1Id}`, token: readOnly })).status).toBe(403);
    const v1 = await s.token({ scope: 'system/Patient.read' });
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${p1Id}`, token: v1 })).status).toBe(200);
    expect((await s.request({ method: 'DELETE', url: `/fhir/Patient/${p1Id}`, token: v1 })).status).toBe(403);
  });

  it("confines patient/ scopes to the launch patient's compartment: others' data answers 404", async () => {
    const token = await s.token({ fhirUser: `Patient/${p1Id}`, scope: 'patient/*.cruds', patient: p1Id });
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${p1Id}`, token })).status).toBe(200);
    expect((await s.request({ method: 'GET', url: `/fhir/Observation/${p2ObsId}`, token })).status).toBe(404);
    const own = await s.request({ method: 'POST', url: '/fhir/Observation', token, body: { resourceType: 'Observation', status: 'final', code: { text: 'tension' }, subject: { reference: `Patient/${p1Id}` } } });
    expect(own.status).toBe(201);
    const foreign = await s.request({ method: 'POST', url: '/fhir/Observation', token, body: { resourceType: 'Observation', status: 'final', code: { text: 'tension' }, subject: { reference: 'Patient/someone-else' } } });
    expect(foreign.status).toBe(403);
    expect((await s.request({ method: 'GET', url: '/fhir/_history', token })).status).toBe(403);
  });

  it('confines a patient user with user/ scopes to their own record', async () => {
    const token = await s.token({ fhirUser: `Patient/${p1Id}`, scope: 'user/*.rs' });
    expect((await s.request({ method: 'GET', url: `/fhir/Patient/${p1Id}`, token })).status).toBe(200);
    expect((await s.request({ method: 'GET', url: `/fhir/Observation/${p2ObsId}`, token })).status).toBe(404);
  });
});

describe('an external issuer configured with CARNET_AUTH_JWKS', () => {
  let s: TestServer;
  let privateKey: CryptoKey;
  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const dir = mkdtempSync(join(tmpdir(), 'carnet-jwks-'));
    const path = join(dir, 'jwks.json');
    writeFileSync(path, JSON.stringify({ keys: [jwk] }));
    s = await startServer('lmdb', { CARNET_AUTH_JWKS: path, CARNET_AUTH_ISSUER: 'https://idp.example', CARNET_AUTH_AUDIENCE: 'carnet' });
  });
  afterAll(async () => s?.close());

  const sign = (iss: string, aud: string) =>
    new SignJWT({ scope: 'system/*.cruds' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(iss).setAudience(aud).setSubject('lab-system').setExpirationTime('5m').sign(privateKey);

  it('accepts its tokens and checks issuer and audience', async () => {
    expect((await s.request({ method: 'POST', url: '/fhir/Patient', token: await sign('https://idp.example', 'carnet'), body: { resourceType: 'Patient' } })).status).toBe(201);
    expect((await s.request({ method: 'POST', url: '/fhir/Patient', token: await sign('https://evil.example', 'carnet'), body: { resourceType: 'Patient' } })).status).toBe(401);
    expect((await s.request({ method: 'POST', url: '/fhir/Patient', token: await sign('https://idp.example', 'other'), body: { resourceType: 'Patient' } })).status).toBe(401);
  });
});
