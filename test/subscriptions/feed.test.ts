import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildRecord } from '../../src/interactions/records.js';
import { parseScopes } from '../../src/auth/scopes.js';
import { createSearchRegistry } from '../../src/search/registry.js';
import { describeEngines, useServer, type TestServer } from '../harness.js';
import { document, pump, restHook, startReceiver, type Receiver } from './helpers.js';

describeEngines('Subscriptions: the change feed', (engine) => {
  let s: TestServer;
  let token: string;
  let receiver: Receiver;
  useServer(engine, (server, t) => {
    s = server;
    token = t;
  }, { CARNET_SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', CARNET_SUBSCRIPTION_LAG_MS: '60000' });
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => receiver.close());

  it('notifies a version that shows up in the history after a pass went past its lastUpdated, once', { timeout: 180_000 }, async () => {
    const sub = await s.request({ method: 'POST', url: '/fhir/Subscription', token, body: restHook('DocumentReference?patient=Patient/late', `http://127.0.0.1:${receiver.port}/fhir`, { payload: 'application/fhir+json' }) });
    expect(sub.status, sub.text).toBe(201);
    await s.app.scheduler.runNow('subscriptions');
    // What a slow commit (or another server with a clock behind) leaves: a version whose
    // lastUpdated is older than the pass that just ran, visible only now.
    const lastUpdated = new Date(Date.parse(sub.body.meta.lastUpdated) + 1);
    const principal = { subject: 'other-server', scope: 'system/*.cruds', scopes: parseScopes('system/*.cruds') };
    const record = buildRecord({ ...document('late'), resourceType: 'DocumentReference' } as never, 'DocumentReference', 'late-doc', undefined, {
      now: () => lastUpdated, registry: createSearchRegistry(), baseUrl: s.baseUrl, principal,
    });
    await s.app.store.commit([{ record, expect: { kind: 'absent' } }]);
    await pump(s, () => receiver.received.length >= 1);
    for (let i = 0; i < 3; i++) await s.app.scheduler.runNow('subscriptions');
    expect(receiver.received.map((r) => r.url)).toEqual(['/fhir/DocumentReference/late-doc']);
  });
});
