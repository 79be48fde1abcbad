import { describe, expect, it } from 'vitest';
import { describeEngines, useServer, versionsButAudit, type TestServer } from '../harness.js';
import { restHook } from './helpers.js';

const websocket = (criteria: string) => ({ resourceType: 'Subscription', status: 'requested', reason: 'test', criteria, channel: { type: 'websocket' } });

describeEngines('Subscriptions: what is accepted', (engine) => {
  describe('with no allowed hosts (the default)', () => {
    let s: TestServer;
    let token: string;
    useServer(engine, (server, t) => {
      s = server;
      token = t;
    });

    it('refuses a rest-hook with a 4xx OperationOutcome, writing nothing', async () => {
      const before = await versionsButAudit(s, token);
      const res = await s.request({ method: 'POST', url: '/fhir/Subscription', token, body: restHook('DocumentReference?patient=Patient/p1', 'http://127.0.0.1:9/hook') });
      expect(res.status).toBe(422);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].diagnostics).toMatch(/CARNET_SUBSCRIPTION_ALLOWED_HOSTS/);
      expect(await versionsButAudit(s, token)).toBe(before);
    });

    it('accepts a websocket Subscription, requested becoming active', async () => {
      const res = await s.request({ method: 'POST', url: '/fhir/Subscription', token, body: websocket('DocumentReference?patient=Patient/p1') });
      expect(res.status, res.text).toBe(201);
      expect(res.body.status).toBe('active');
    });
  });

  describe('with 127.0.0.1 allowed', () => {
    let s: TestServer;
    let token: string;
    useServer(engine, (server, t) => {
      s = server;
      token = t;
    }, { CARNET_SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1' });

    const refused = async (body: Record<string, unknown>, pattern: RegExp) => {
      const res = await s.request({ method: 'POST', url: '/fhir/Subscription', token, body });
      expect(res.status, res.text).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].diagnostics).toMatch(pattern);
    };

    it('refuses an endpoint on another host, or not http(s), or with credentials', async () => {
      await refused(restHook('DocumentReference?patient=Patient/p1', 'http://169.254.169.254/latest/meta-data'), /not among the hosts/);
      await refused(restHook('DocumentReference?patient=Patient/p1', 'http://localhost:8080/hook'), /not among the hosts/);
      await refused(restHook('DocumentReference?patient=Patient/p1', 'ftp://127.0.0.1/hook'), /http or https/);
      await refused(restHook('DocumentReference?patient=Patient/p1', 'http://user:secret@127.0.0.1/hook'), /credentials/);
    });

    it('refuses criteria on an unknown type, with an unknown parameter, or chained', async () => {
      await refused(restHook('Nothing?patient=Patient/p1', 'http://127.0.0.1:9/hook'), /not a resource type/);
      await refused(restHook('DocumentReference?colour=blue', 'http://127.0.0.1:9/hook'), /colour/);
      await refused(restHook('DocumentReference?subject:Patient.name=x', 'http://127.0.0.1:9/hook'), /chained/);
      await refused(restHook('DocumentReference?patient=Patient/p1', 'http://127.0.0.1:9/hook', { type: 'email' }), /channel.type/);
      await refused(restHook('DocumentReference?patient=Patient/p1', 'http://127.0.0.1:9/hook', { payload: 'application/xml' }), /payload/);
      await refused(restHook('DocumentReference?patient=Patient/p1', 'http://127.0.0.1:9/hook', { header: ['no colon here'] }), /header/);
    });

    it('accepts an allowed endpoint as active, and refuses an update to another host', async () => {
      const created = await s.request({ method: 'POST', url: '/fhir/Subscription', token, body: restHook('DocumentReference?patient=Patient/p1', 'http://127.0.0.1:9/hook') });
      expect(created.status, created.text).toBe(201);
      expect(created.body.status).toBe('active');
      const moved = { ...created.body, channel: { type: 'rest-hook', endpoint: 'http://attacker.example/hook' } };
      const res = await s.request({ method: 'PUT', url: `/fhir/Subscription/${created.body.id}`, token, body: moved });
      expect(res.status).toBe(422);
      expect((await s.request({ method: 'GET', url: `/fhir/Subscription/${created.body.id}`, token })).body.channel.endpoint).toBe('http://127.0.0.1:9/hook');
    });

    it('refuses criteria on a type the writer may not search', async () => {
      const obsOnly = await s.token({ scope: 'system/Subscription.cruds system/Observation.rs' });
      const res = await s.request({ method: 'POST', url: '/fhir/Subscription', token: obsOnly, body: restHook('DocumentReference?patient=Patient/p1', 'http://127.0.0.1:9/hook') });
      expect(res.status).toBe(403);
      const ok = await s.request({ method: 'POST', url: '/fhir/Subscription', token: obsOnly, body: restHook('Observation?patient=Patient/p1', 'http://127.0.0.1:9/hook') });
      expect(ok.status, ok.text).toBe(201);
    });

    it('lets a patient app subscribe, and shows its Subscription to it alone', async () => {
      const patient = await s.token({ fhirUser: 'Patient/p1', scope: 'patient/*.cruds', patient: 'p1' });
      const other = await s.token({ fhirUser: 'Patient/p2', scope: 'patient/*.cruds', patient: 'p2' });
      const created = await s.request({ method: 'POST', url: '/fhir/Subscription', token: patient, body: restHook('Communication?recipient=Patient/p1', 'http://127.0.0.1:9/hook') });
      expect(created.status, created.text).toBe(201);
      expect((await s.request({ method: 'GET', url: `/fhir/Subscription/${created.body.id}`, token: patient })).status).toBe(200);
      expect((await s.request({ method: 'GET', url: `/fhir/Subscription/${created.body.id}`, token: other })).status).toBe(404);
    });
  });
});
