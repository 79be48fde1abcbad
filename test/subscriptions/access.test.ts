import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from '../harness.js';
import { actor, consent } from '../access/world.js';
import { document, pump, restHook, startReceiver, type Receiver } from './helpers.js';

describeEngines('Subscriptions: only what the owner may see', (engine) => {
  let s: TestServer;
  let system: string;
  let receiver: Receiver;
  useServer(engine, (server, t) => {
    s = server;
    system = t;
  }, { CARNET_SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', CARNET_SUBSCRIPTION_RETRY_MS: '1' });
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => receiver.close());

  const put = async (body: Record<string, unknown>, token = system) => {
    const res = await s.request({ method: 'PUT', url: `/fhir/${body.resourceType}/${body.id}`, token, body });
    expect(res.status, res.text).toBeLessThan(300);
    return res.body;
  };
  const post = async (body: Record<string, unknown>, token = system) => {
    const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token, body });
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  const delivered = () => receiver.received.map((r) => r.url.split('/').pop());

  it('notifies a professional of a record only while its patient consents, and of their patients as médecin traitant', { timeout: 240_000 }, async () => {
    await put({ resourceType: 'Practitioner', id: 'dr', name: [{ family: 'Martin' }] });
    await put({ resourceType: 'Patient', id: 'p1', birthDate: '1980-01-01' });
    await put({ resourceType: 'Patient', id: 'p2', birthDate: '1970-01-01', generalPractitioner: [{ reference: 'Practitioner/dr' }] });
    const dr = await s.token({ fhirUser: 'Practitioner/dr', scope: 'user/*.cruds' });
    const p1 = await s.token({ fhirUser: 'Patient/p1', scope: 'patient/*.cruds', patient: 'p1' });
    await post(restHook('DocumentReference?status=current', `http://127.0.0.1:${receiver.port}/fhir`, { payload: 'application/fhir+json' }), dr);

    // Without consent: p1's document is not the doctor's to know of; p2's is (médecin traitant).
    const hidden = await post(document('p1', 'sans consentement'));
    const ofPatient = await post(document('p2', 'patient du médecin traitant'));
    await pump(s, () => receiver.received.length >= 1);
    expect(delivered()).toEqual([ofPatient.id]);

    const granted = await post(consent('p1', { type: 'permit', actor: [actor('Practitioner/dr')] }), p1);
    const consented = await post(document('p1', 'avec consentement'));
    await pump(s, () => receiver.received.length >= 2);
    expect(delivered()).toEqual([ofPatient.id, consented.id]);

    // The patient withdraws consent: the next document of theirs is not notified.
    await put({ ...granted, status: 'inactive' }, p1);
    const afterRevocation = await post(document('p1', 'après retrait'));
    const sentinel = await post(document('p2', 'témoin'));
    await pump(s, () => receiver.received.length >= 3);
    for (let i = 0; i < 3; i++) await s.app.scheduler.runNow('subscriptions');
    expect(delivered()).toEqual([ofPatient.id, consented.id, sentinel.id]);
    expect(delivered()).not.toContain(hidden.id);
    expect(delivered()).not.toContain(afterRevocation.id);
  });

  it('stops retrying a notification once the consent it rested on is withdrawn', { timeout: 240_000 }, async () => {
    const failing = await startReceiver();
    failing.answer.status = 503;
    try {
      await put({ resourceType: 'Practitioner', id: 'dr2', name: [{ family: 'Durand' }] });
      await put({ resourceType: 'Patient', id: 'p6', birthDate: '1985-01-01' });
      const dr = await s.token({ fhirUser: 'Practitioner/dr2', scope: 'user/*.cruds' });
      const p6 = await s.token({ fhirUser: 'Patient/p6', scope: 'patient/*.cruds', patient: 'p6' });
      const granted = await post(consent('p6', { type: 'permit', actor: [actor('Practitioner/dr2')] }), p6);
      await post(restHook('DocumentReference?patient=Patient/p6', `http://127.0.0.1:${failing.port}/hook`), dr);
      await post(document('p6', 'avec consentement'));
      await pump(s, () => failing.received.length >= 1);

      await put({ ...granted, status: 'inactive' }, p6);
      failing.answer.status = 200;
      const attempts = failing.received.length;
      await pump(s, async () => (await s.app.store.listState('subq:', { limit: 10 })).length === 0);
      expect(failing.received).toHaveLength(attempts);
    } finally {
      await failing.close();
    }
  });
});
