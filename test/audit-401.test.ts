import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { importJWK, SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RETENTION_JOB } from '../src/audit/retention.js';
import { REFUSAL_POLICY, REFUSALS_URL } from '../src/audit/unauthenticated.js';
import { LOCAL_ISSUER_FILE } from '../src/auth/local-issuer.js';
import { describeEngines, startServer, type TestServer } from './harness.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-05T10:00:00.000Z');
const W = REFUSAL_POLICY.intervalMs;
const REQUEST_ID = 'urn:carnet:request-id';
const GLOBAL_TAG = 'urn:carnet:audit-chain|global';

const param = (body: any, name: string) => body.parameter.find((p: any) => p.name === name);
const countOf = (e: any): number | undefined => e.extension?.find((x: any) => x.url === REFUSALS_URL)?.valuePositiveInt;
const addressOf = (e: any): string | undefined => e.agent.find((a: any) => a.requestor)?.network?.address;

describeEngines('access history: requests refused for want of a valid token, 401 (issue 15)', (engine) => {
  let s: TestServer;
  let system: string;
  let patient: string;
  let clock = T0;
  /** Where the next interval of the refusals' policy begins: the next refusal opens it. */
  const nextInterval = () => {
    clock += W;
  };

  const search = async (query: string, token = system): Promise<any[]> => {
    const res = await s.request({ method: 'GET', url: `/fhir/AuditEvent?${query}&_count=1000`, token });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    return (res.body.entry ?? []).map((e: any) => e.resource);
  };
  /** The events recorded for one request, by the request id its answer carried. */
  const eventsOf = (res: { headers: Record<string, any> }) => search(`entity:identifier=${encodeURIComponent(`${REQUEST_ID}|${res.headers['x-request-id']}`)}`);
  const globalEvents = () => search(`_tag=${encodeURIComponent(GLOBAL_TAG)}`);
  const fromAddress = async (address: string) => (await globalEvents()).filter((e) => addressOf(e) === address);
  const refused = async (opts: { method?: string; url: string; token?: string; body?: unknown; remoteAddress: string; headers?: Record<string, string> }) => {
    const res = await s.request({ method: 'GET', ...opts });
    expect(res.status, res.text.slice(0, 300)).toBe(401);
    return res;
  };
  const verifyGlobal = async () => {
    await s.app.auditor.journal.flushHeads();
    const res = await s.request({ method: 'GET', url: '/fhir/AuditEvent/$verify', token: system });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    return res.body;
  };
  /** A token signed with the server's own key, with the header and claims given. */
  const selfSigned = async (header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> => {
    const file = JSON.parse(readFileSync(join(s.dataDir, LOCAL_ISSUER_FILE), 'utf8'));
    const key = await importJWK(file.privateJwk, file.privateJwk.alg);
    return new SignJWT({ scope: 'system/*.cruds', ...claims })
      .setProtectedHeader({ alg: file.privateJwk.alg, kid: file.kid, ...header })
      .setIssuer(file.issuer)
      .setAudience(file.audience)
      .setSubject('someone')
      .sign(key);
  };

  beforeAll(async () => {
    s = await startServer(engine, {}, () => new Date(clock));
    system = await s.token({ scope: 'system/*.cruds' });
    const res = await s.request({ method: 'POST', url: '/fhir/Patient', token: system, body: { resourceType: 'Patient', name: [{ family: 'Lemoine' }] } });
    expect(res.status).toBe(201);
    patient = res.body.id;
  });
  afterAll(async () => s?.close());

  it('a 401 leaves one AuditEvent: under no patient, with its source, user agent, path, attempt and reason', async () => {
    nextInterval();
    const res = await refused({ url: `/fhir/Patient/${patient}?_elements=name`, remoteAddress: '10.1.0.1', headers: { 'user-agent': 'curl/8.5.0' } });
    const events = await eventsOf(res);
    expect(events).toHaveLength(1);
    const e = events[0];
    expect(e).toMatchObject({
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
      action: 'R',
      outcome: '4',
      outcomeDesc: 'Missing bearer token (Authorization header)',
    });
    expect(e.agent).toEqual([
      { who: { display: 'unauthenticated caller' }, requestor: true, network: { address: '10.1.0.1', type: '2' } },
      { type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] }, who: { display: 'curl/8.5.0' }, requestor: false },
      expect.objectContaining({ who: { display: 'carnet' }, requestor: false }),
    ]);
    // The path, not the query; the type it names, never a reference to what it names.
    expect(e.entity).toContainEqual(expect.objectContaining({ name: `/fhir/Patient/${patient}`, description: 'request path' }));
    expect(e.entity).toContainEqual({ type: { system: 'http://hl7.org/fhir/resource-types', code: 'Patient' } });
    expect(JSON.stringify(e)).not.toContain('_elements');
    expect(e.entity.filter((x: any) => x.what?.reference)).toEqual([]);
    expect(countOf(e)).toBe(1);
    // In the global chain, not in a patient's.
    expect(e.meta.tag).toContainEqual(expect.objectContaining({ system: 'urn:carnet:audit-chain', code: 'global' }));
    const link = e.extension.find((x: any) => x.url === 'urn:carnet:audit-chain');
    expect(link.extension[0]).toEqual({ url: 'scope', valueCode: 'global' });
    expect(link.extension.filter((p: any) => p.url === 'patient')).toEqual([]);
    expect((await search(`patient=Patient/${patient}`)).map((x) => x.id)).not.toContain(e.id);
    const own = await s.token({ fhirUser: `Patient/${patient}`, scope: 'patient/*.cruds', patient });
    expect((await search(`patient=Patient/${patient}`, own)).map((x) => x.id)).not.toContain(e.id);
  });

  it('names the reason (bad signature, expired, not an access token) and the attempt, never the token', async () => {
    nextInterval();
    const good = await s.token({ scope: 'system/*.cruds' });
    const [head, payload, sig] = good.split('.');
    const forged = `${head}.${payload}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    const expired = await selfSigned({ typ: 'JWT' }, { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 });
    const idToken = await selfSigned({ typ: 'id+jwt' }, { exp: Math.floor(Date.now() / 1000) + 3600 });
    const observation = { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient/${patient}` } };
    const cases = [
      { req: { method: 'POST', url: '/fhir/Observation', token: forged, body: observation }, subtype: 'create', action: 'C', reason: 'Access token signature is invalid', secret: sig },
      { req: { url: `/fhir/Observation?subject=Patient/${patient}`, token: expired }, subtype: 'search-type', action: 'E', reason: 'Access token expired', secret: expired.split('.')[2] },
      { req: { url: `/fhir/Patient/${patient}/_history`, token: idToken }, subtype: 'history-instance', action: 'R', reason: 'The token is not an access token (its JWT typ is neither JWT nor at+jwt)', secret: idToken.split('.')[2] },
      { req: { url: `/fhir/Patient/${patient}/Observation` }, subtype: 'search-type', action: 'E', reason: 'Missing bearer token (Authorization header)', type: 'Observation' },
      { req: { method: 'POST', url: '/fhir', body: { resourceType: 'Bundle', type: 'transaction', entry: [] } }, subtype: undefined, action: 'E', reason: 'Missing bearer token (Authorization header)' },
    ];
    for (const [i, c] of cases.entries()) {
      const res = await refused({ ...c.req, remoteAddress: `10.1.1.${i + 1}` });
      const events = await eventsOf(res);
      expect(events, c.req.url).toHaveLength(1);
      const e = events[0];
      expect(e.subtype?.[0]?.code, c.req.url).toBe(c.subtype);
      expect(e, c.req.url).toMatchObject({ action: c.action, outcome: '4', outcomeDesc: c.reason });
      if (c.type) expect(e.entity).toContainEqual({ type: { system: 'http://hl7.org/fhir/resource-types', code: c.type } });
      if (c.secret) expect(JSON.stringify(e)).not.toContain(c.secret);
      expect(JSON.stringify(e)).not.toContain('subject=');
      expect(addressOf(e)).toBe(`10.1.1.${i + 1}`);
    }
  });

  it('bounds a flood: one AuditEvent per address and interval at once, then one carrying the count of its further 401s', async () => {
    nextInterval();
    const start = new Date(clock).toISOString();
    const first = await refused({ url: '/fhir/DocumentReference', remoteAddress: '10.2.0.1' });
    const again = [];
    for (let i = 0; i < 4; i++) {
      clock += 1000;
      again.push(await refused({ url: `/fhir/DocumentReference?n=${i}`, remoteAddress: '10.2.0.1' }));
    }
    await refused({ url: '/fhir/Patient', remoteAddress: '10.2.0.2' });
    expect(await eventsOf(first)).toHaveLength(1);
    for (const res of again) expect(await eventsOf(res)).toEqual([]);
    expect((await fromAddress('10.2.0.1')).map(countOf)).toEqual([1]);

    // The first 401 after the interval ends it: its counts are written with the new 401's own event.
    clock = Date.parse(start) + W;
    const next = await refused({ url: '/fhir/Observation', remoteAddress: '10.2.0.1' });
    const events = await fromAddress('10.2.0.1');
    expect(events.map(countOf).sort()).toEqual([1, 1, 4]);
    const counted = events.find((e) => countOf(e) === 4);
    expect(counted).toMatchObject({ outcome: '4', outcomeDesc: 'Missing bearer token (Authorization header)', period: { start, end: new Date(clock).toISOString() } });
    expect(counted.entity).toContainEqual(expect.objectContaining({ name: '/fhir/DocumentReference', description: 'request path (the last refused in the interval)' }));
    expect(await eventsOf(next)).toHaveLength(1);
    // An address refused once in the interval has its one event, and no count.
    expect((await fromAddress('10.2.0.2')).map(countOf)).toEqual([1]);
  });

  it(`past ${REFUSAL_POLICY.maxSources} addresses in an interval, the 401s of the others are counted into one AuditEvent`, async () => {
    nextInterval();
    const before = (await globalEvents()).length;
    const others = [];
    for (let i = 0; i < REFUSAL_POLICY.maxSources + 3; i++) {
      const res = await refused({ url: '/fhir/Patient', remoteAddress: `10.3.${Math.floor(i / 200)}.${i % 200}` });
      if (i >= REFUSAL_POLICY.maxSources) others.push(res);
    }
    for (const res of others) expect(await eventsOf(res)).toEqual([]);
    expect((await globalEvents()).length - before).toBe(REFUSAL_POLICY.maxSources);
    // The interval ends when the server closes (or its time is up): the counts are written then.
    await s.app.auditor.refusals.flush();
    const all = await globalEvents();
    expect(all.length - before).toBe(REFUSAL_POLICY.maxSources + 1);
    const rest = all.filter((e) => e.agent[0].who.display === 'unauthenticated callers from other addresses');
    expect(rest).toHaveLength(1);
    expect(countOf(rest[0])).toBe(3);
    expect(addressOf(rest[0])).toBeUndefined();
  });

  it('records a refused websocket upgrade too', async () => {
    nextInterval();
    await s.app.http.listen({ port: 0, host: '127.0.0.1' });
    const port = (s.app.http.server.address() as AddressInfo).port;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/fhir/websocket`, { headers: { 'user-agent': 'ws-client/1' } });
      ws.once('open', () => reject(new Error('opened without a token')));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => undefined);
    });
    expect(status).toBe(401);
    const events = (await globalEvents()).filter((e) => e.entity.some((x: any) => x.name === '/fhir/websocket'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: '4', outcomeDesc: 'Missing bearer token (Authorization header)' });
    expect(events[0].agent[1].who.display).toBe('ws-client/1');
  });

  it('the global chain verifies with these events ($verify without patient), and the CapabilityStatement says the policy', async () => {
    const global = await globalEvents();
    const v = await verifyGlobal();
    expect(param(v, 'result').valueBoolean).toBe(true);
    expect(param(v, 'checked').valueInteger).toBe(global.length);
    expect(param(v, 'break')).toBeUndefined();
    const patientChains = await s.request({ method: 'GET', url: `/fhir/AuditEvent/$verify?patient=Patient/${patient}`, token: system });
    expect(param(patientChains.body, 'result').valueBoolean).toBe(true);
    const cs = await s.request({ method: 'GET', url: '/fhir/metadata' });
    const doc = cs.body.rest[0].resource.find((r: any) => r.type === 'AuditEvent').documentation;
    expect(doc).toContain('401');
    expect(doc).toContain(`${REFUSAL_POLICY.maxSources} addresses`);
  });

  it('retention removes them as reads (an attempted create too), and the global chain still verifies', async () => {
    const global = await globalEvents();
    expect(global.some((e) => e.action === 'C')).toBe(true);
    await s.app.auditor.journal.flushHeads();
    clock = T0 + 212 * DAY;
    const removed = (await s.app.scheduler.runNow(RETENTION_JOB)).result as { reads: number; writes: number };
    expect(removed.reads).toBeGreaterThanOrEqual(global.length);
    expect(await globalEvents()).toEqual([]);
    // The system's own creates at T0 (writes, kept 10 years) stay.
    expect((await search(`patient=Patient/${patient}`)).filter((e) => e.action === 'C')).not.toEqual([]);
    expect(param(await verifyGlobal(), 'result').valueBoolean).toBe(true);

    nextInterval();
    await refused({ url: '/fhir/Patient', remoteAddress: '10.4.0.1' });
    const v = await verifyGlobal();
    expect(param(v, 'result').valueBoolean).toBe(true);
    expect(param(v, 'checked').valueInteger).toBe(1);
  });

  it("$verify of the global chain finds a 401's event changed behind the server's back", async () => {
    const [victim] = await fromAddress('10.4.0.1');
    const record = (await s.app.store.read('AuditEvent', victim.id))!;
    const forged = { ...record, versionId: record.versionId + 1, resource: { ...record.resource!, outcomeDesc: 'nothing happened' } };
    await s.app.store.commit([{ record: forged, expect: { kind: 'version', versionId: record.versionId } }]);
    const v = await verifyGlobal();
    expect(param(v, 'result').valueBoolean).toBe(false);
    expect(param(v, 'break').part).toEqual([
      { name: 'event', valueReference: { reference: `AuditEvent/${victim.id}` } },
      { name: 'chain', valueString: expect.any(String) },
      { name: 'reason', valueString: 'its content does not match its hash' },
    ]);
  });
});

describeEngines('access history: a 401 that cannot be recorded (issue 15)', (engine) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(engine);
  });
  afterAll(async () => s?.close());

  it('answers 503, and the next 401 of the same address tries again rather than being only counted', async () => {
    // The store goes away behind the server: no event can be made durable.
    await s.app.store.close();
    for (let i = 0; i < 2; i++) {
      const res = await s.request({ method: 'GET', url: '/fhir/Patient', remoteAddress: '10.9.0.1' });
      expect(res.status, res.text.slice(0, 300)).toBe(503);
      expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ diagnostics: 'The access history could not be recorded; try again' }] });
    }
  });
});
