import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from '../harness.js';
import { document, pump } from './helpers.js';

/** A websocket client that keeps every message it gets. */
async function connect(port: number, token?: string): Promise<{ ws: WebSocket; messages: string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/fhir/websocket`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(data.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return { ws, messages };
}

/** Waits, a bounded number of short turns, until a message arrives. */
async function next(messages: string[], count: number): Promise<void> {
  for (let i = 0; i < 500 && messages.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(messages.length).toBeGreaterThanOrEqual(count);
}

const websocketSub = (criteria: string) => ({ resourceType: 'Subscription', status: 'requested', reason: 'app', criteria, channel: { type: 'websocket' } });

describeEngines('Subscriptions: websocket', (engine) => {
  let s: TestServer;
  let system: string;
  let port: number;
  const sockets: WebSocket[] = [];
  useServer(engine, (server, t) => {
    s = server;
    system = t;
  });
  beforeAll(async () => {
    await s.app.http.listen({ port: 0, host: '127.0.0.1' });
    port = (s.app.http.server.address() as AddressInfo).port;
  });
  afterAll(() => sockets.forEach((ws) => ws.terminate()));

  it('is published in the CapabilityStatement', async () => {
    const cs = await s.request({ method: 'GET', url: '/fhir/metadata' });
    expect(cs.body.rest[0].extension).toContainEqual({ url: 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket', valueUri: 'ws://carnet.test/fhir/websocket' });
  });

  it('refuses an upgrade without a valid token', async () => {
    await expect(connect(port)).rejects.toThrow(/401/);
    await expect(connect(port, 'not-a-token')).rejects.toThrow(/401/);
  });

  it('binds a client to its own Subscription and pings it on a match', { timeout: 180_000 }, async () => {
    const patient = await s.token({ fhirUser: 'Patient/p1', scope: 'patient/*.cruds', patient: 'p1' });
    const sub = await s.request({ method: 'POST', url: '/fhir/Subscription', token: patient, body: websocketSub('DocumentReference?patient=Patient/p1') });
    expect(sub.status, sub.text).toBe(201);
    const { ws, messages } = await connect(port, patient);
    sockets.push(ws);
    ws.send(`bind ${sub.body.id}`);
    await next(messages, 1);
    expect(messages[0]).toBe(`bound ${sub.body.id}`);

    const doc = await s.request({ method: 'POST', url: '/fhir/DocumentReference', token: system, body: document('p1') });
    expect(doc.status).toBe(201);
    await pump(s, () => messages.length >= 2);
    expect(messages[1]).toBe(`ping ${sub.body.id}`);
  });

  it('pings a patient app of the notifications (Communications) addressed to its patient', { timeout: 180_000 }, async () => {
    const patient = await s.token({ fhirUser: 'Patient/p4', scope: 'patient/*.cruds', patient: 'p4' });
    const sub = await s.request({ method: 'POST', url: '/fhir/Subscription', token: patient, body: websocketSub('Communication?recipient=Patient/p4') });
    expect(sub.status, sub.text).toBe(201);
    const { ws, messages } = await connect(port, patient);
    sockets.push(ws);
    ws.send(`bind ${sub.body.id}`);
    await next(messages, 1);
    const notification = { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/p4' }, recipient: [{ reference: 'Patient/p4' }], payload: [{ contentString: 'Un document a été ajouté à votre dossier.' }] };
    const toOther = { ...notification, subject: { reference: 'Patient/p5' }, recipient: [{ reference: 'Patient/p5' }] };
    expect((await s.request({ method: 'POST', url: '/fhir/Communication', token: system, body: toOther })).status).toBe(201);
    expect((await s.request({ method: 'POST', url: '/fhir/Communication', token: system, body: notification })).status).toBe(201);
    await pump(s, () => messages.length >= 2);
    for (let i = 0; i < 3; i++) await s.app.scheduler.runNow('subscriptions');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(messages).toEqual([`bound ${sub.body.id}`, `ping ${sub.body.id}`]);
  });

  it('does not bind someone else\'s Subscription', async () => {
    const owner = await s.token({ fhirUser: 'Patient/p2', scope: 'patient/*.cruds', patient: 'p2' });
    const other = await s.token({ fhirUser: 'Patient/p3', scope: 'patient/*.cruds', patient: 'p3' });
    const sub = await s.request({ method: 'POST', url: '/fhir/Subscription', token: owner, body: websocketSub('DocumentReference?patient=Patient/p2') });
    expect(sub.status, sub.text).toBe(201);
    const { ws, messages } = await connect(port, other);
    sockets.push(ws);
    ws.send(`bind ${sub.body.id}`);
    await next(messages, 1);
    expect(messages[0]).toBe(`error ${sub.body.id} Subscription/${sub.body.id} is not known`);
  });
});
