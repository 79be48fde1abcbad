import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEngines, startServer, useServer, type TestServer } from '../harness.js';
import { document, freePort, pump, restHook, startReceiver, type Receiver } from './helpers.js';

// FerretDB on a shared machine can take seconds per write: room for the passes each test needs.
const SLOW = 180_000;
const HOSTS = { CARNET_SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', CARNET_SUBSCRIPTION_RETRY_MS: '1', CARNET_SUBSCRIPTION_MAX_ATTEMPTS: '3' };

describeEngines('Subscriptions: rest-hook', (engine) => {
  describe('delivery', () => {
    let s: TestServer;
    let token: string;
    let receiver: Receiver;
    useServer(engine, (server, t) => {
      s = server;
      token = t;
    }, HOSTS);
    beforeAll(async () => {
      receiver = await startReceiver();
    });
    afterAll(async () => receiver.close());

    it('POSTs to the endpoint, with its own headers and no token of carnet, for a matching resource only', { timeout: SLOW }, async () => {
      const sub = await s.request({
        method: 'POST', url: '/fhir/Subscription', token,
        body: restHook('DocumentReference?patient=Patient/p1', `http://127.0.0.1:${receiver.port}/hook`, { header: ['Authorization: Bearer hook-secret', 'X-Tenant: t1'] }),
      });
      expect(sub.status, sub.text).toBe(201);
      await s.request({ method: 'POST', url: '/fhir/DocumentReference', token, body: document('p2') });
      const doc = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token, body: document('p1') });
      expect(doc.status).toBe(201);
      await pump(s, () => receiver.received.length >= 1);
      // A few more passes: the document of p2 and the one of p1 are not sent (again).
      for (let i = 0; i < 3; i++) await s.app.scheduler.runNow('subscriptions');
      expect(receiver.received).toHaveLength(1);
      const [got] = receiver.received;
      expect(got.method).toBe('POST');
      expect(got.url).toBe('/hook');
      expect(got.body).toBe('');
      expect(got.headers.authorization).toBe('Bearer hook-secret');
      expect(got.headers['x-tenant']).toBe('t1');
      expect(JSON.stringify(got.headers)).not.toContain(token);
    });

    it('with payload application/fhir+json, PUTs the version to [endpoint]/[type]/[id]', { timeout: SLOW }, async () => {
      receiver.received.length = 0;
      const sub = await s.request({
        method: 'POST', url: '/fhir/Subscription', token,
        body: restHook('Observation?code=http://loinc.org|8867-4', `http://127.0.0.1:${receiver.port}/fhir/`, { payload: 'application/fhir+json' }),
      });
      expect(sub.status, sub.text).toBe(201);
      const obs = await s.request({
        method: 'POST', url: '/fhir/Observation', token,
        body: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: 'Patient/p3' }, effectiveDateTime: '2026-03-01T09:00:00Z', valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } },
      });
      expect(obs.status).toBe(201);
      await pump(s, () => receiver.received.length >= 1);
      const [got] = receiver.received;
      expect(got.method).toBe('PUT');
      expect(got.url).toBe(`/fhir/Observation/${obs.body.id}`);
      expect(got.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect(JSON.parse(got.body)).toMatchObject({ resourceType: 'Observation', id: obs.body.id, meta: { versionId: '1' } });
    });
  });

  it('delivers after a restart what could not be delivered while the receiver was down', { timeout: SLOW }, async () => {
    // Retried often enough for a test, never given up on.
    const s = await startServer(engine, { ...HOSTS, CARNET_SUBSCRIPTION_MAX_ATTEMPTS: '100' });
    let receiver: Receiver | undefined;
    try {
      const token = await s.token({ scope: 'system/*.cruds' });
      const port = await freePort();
      const sub = await s.request({ method: 'POST', url: '/fhir/Subscription', token, body: restHook('DocumentReference?patient=Patient/p1', `http://127.0.0.1:${port}/hook`) });
      expect(sub.status, sub.text).toBe(201);
      const doc = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token, body: document('p1') });
      expect(doc.status).toBe(201);
      // The job queues it and fails to send it: nobody listens.
      await pump(s, async () => (await s.app.store.listState('subq:', { limit: 10 })).some((e) => (e.value as { attempts: number }).attempts >= 1));
      await s.restart();
      receiver = await startReceiver(port);
      await pump(s, () => receiver!.received.length >= 1);
      for (let i = 0; i < 3; i++) await s.app.scheduler.runNow('subscriptions');
      expect(receiver.received).toHaveLength(1);
      expect((await s.request({ method: 'GET', url: `/fhir/Subscription/${sub.body.id}`, token })).body.status).toBe('active');
    } finally {
      await receiver?.close();
      await s.close();
    }
  });

  it('does not follow a redirect to another host, and sets the Subscription to error after the allowed failures', { timeout: SLOW }, async () => {
    const s = await startServer(engine, HOSTS);
    const target = await startReceiver();
    const redirecting = await startReceiver();
    redirecting.answer.status = 302;
    redirecting.answer.headers = { location: `http://localhost:${target.port}/stolen` };
    try {
      const token = await s.token({ scope: 'system/*.cruds' });
      const sub = await s.request({ method: 'POST', url: '/fhir/Subscription', token, body: restHook('DocumentReference?patient=Patient/p1', `http://127.0.0.1:${redirecting.port}/hook`) });
      expect(sub.status, sub.text).toBe(201);
      await s.request({ method: 'POST', url: '/fhir/DocumentReference', token, body: document('p1') });
      let status = 'active';
      await pump(s, async () => {
        const res = await s.request({ method: 'GET', url: `/fhir/Subscription/${sub.body.id}`, token });
        status = res.body.status;
        return status === 'error';
      });
      const res = await s.request({ method: 'GET', url: `/fhir/Subscription/${sub.body.id}`, token });
      expect(res.body.error).toMatch(/redirect/);
      expect(redirecting.received).toHaveLength(3);
      expect(target.received).toHaveLength(0);
    } finally {
      await target.close();
      await redirecting.close();
      await s.close();
    }
  });
});
