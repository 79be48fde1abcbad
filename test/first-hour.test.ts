import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureLocalIssuer } from '../src/auth/local-issuer.js';
import { describeEngines, useServer, type TestServer } from './harness.js';
import { PROCESS_TIMEOUT, startProcess, type Running } from './processes.js';

describeEngines('what a newcomer meets first', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server) => {
    s = server;
  });
  beforeAll(async () => {
    system = await s.token({ scope: 'system/*.cruds' });
  });
  const count = async (type: string) => (await s.request({ method: 'GET', url: `/fhir/${type}?_summary=count`, token: system })).body.total;

  it('JSON sent as a form (curl -d without a content type) gets the 415 of any non-FHIR body, and nothing is written', async () => {
    const before = await count('Patient');
    const res = await s.request({
      method: 'POST', url: '/fhir/Patient', token: system,
      body: '{"resourceType":"Patient","name":[{"family":"Martin"}]}', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toMatch(/Send application\/fhir\+json/);
    expect(await count('Patient')).toBe(before);
  });

  it('a form still carries the parameters of POST _search', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Patient', token: system, body: { resourceType: 'Patient', name: [{ family: 'Formulaire' }] } });
    expect(created.status).toBe(201);
    const found = await s.request({ method: 'POST', url: '/fhir/Patient/_search', token: system, body: 'family=Formulaire', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(found.status).toBe(200);
    expect(found.body.entry.map((e: any) => e.resource.id)).toEqual([created.body.id]);
  });

  it('a Binary sent as a form keeps its bytes and its content type', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Binary', token: system, body: 'a=1&b=%C3%A9', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-security-context': 'Patient/p-form' } });
    expect(created.status).toBe(201);
    const read = await s.request({ method: 'GET', url: `/fhir/Binary/${created.body.id}`, token: system, headers: { accept: 'application/x-www-form-urlencoded' } });
    expect(read.status).toBe(200);
    expect(read.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(read.text).toBe('a=1&b=%C3%A9');
  });

  for (const bad of ['a b', 'a_b!']) {
    it(`a malformed id ("${bad}") is a 400, not a 404`, async () => {
      for (const url of [`/fhir/Patient/${encodeURIComponent(bad)}`, `/fhir/Patient/${encodeURIComponent(bad)}/_history`, `/fhir/Patient/ok/_history/${encodeURIComponent(bad)}`, `/fhir/Patient/${encodeURIComponent(bad)}/Observation`]) {
        const res = await s.request({ method: 'GET', url, token: system });
        expect(res.status, url).toBe(400);
        expect(res.body.resourceType).toBe('OperationOutcome');
        expect(res.body.issue[0].diagnostics).toMatch(/not a valid (version )?id/);
      }
      expect((await s.request({ method: 'DELETE', url: `/fhir/Patient/${encodeURIComponent(bad)}`, token: system })).status).toBe(400);
    });
  }

  it('a well-formed id that names nothing is still a 404', async () => {
    expect((await s.request({ method: 'GET', url: '/fhir/Patient/nobody-here', token: system })).status).toBe(404);
  });

  it("a token from another data directory's issuer gets a 401 that says why", async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'carnet-other-issuer-'));
    try {
      const foreign = await (await ensureLocalIssuer(elsewhere)).sign({ scope: 'system/*.cruds' });
      const res = await s.request({ method: 'GET', url: '/fhir/Patient', token: foreign });
      expect(res.status).toBe(401);
      expect(res.body.issue[0].diagnostics).toMatch(/no trusted key matches.*local development issuer.*same CARNET_DATA_DIR/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('/health and /ready answer plain JSON, not FHIR', async () => {
    for (const url of ['/health', '/ready']) {
      const res = await s.request({ method: 'GET', url });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    }
  });
});

describe('the log of a running server', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'carnet-log-'));
  let server: Running;
  beforeAll(async () => {
    server = await startProcess({ CARNET_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  }, PROCESS_TIMEOUT);
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('has one line per request with method, route, status, time, and why a 4xx was refused, without health data', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const system = await (await ensureLocalIssuer(dataDir)).sign({ scope: 'system/*.cruds' });
    const patientToken = await (await ensureLocalIssuer(dataDir)).sign({ fhirUser: 'Patient/p1', scope: 'patient/*.rs', patient: 'p1' });
    const send = async (path: string, init: RequestInit = {}, token = system) => {
      const res = await fetch(base + path, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
      await res.arrayBuffer();
      return { status: res.status, id: res.headers.get('x-request-id')! };
    };
    const fhir = { 'content-type': 'application/fhir+json' };
    const sent: Array<{ id: string; method: string; route: string; status: number; issue?: string }> = [
      { ...(await send('/fhir/Patient?family=Secretname&_count=1')), method: 'GET', route: '/fhir/:type', status: 200 },
      { ...(await send('/fhir/Patient', { method: 'POST', headers: fhir, body: '{"resourceType":"Patient","name":[{"family":"Dupontbroken"' })), method: 'POST', route: '/fhir/:type', status: 400, issue: 'structure' },
      { ...(await send('/fhir/Patient', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'Dupontplain' })), method: 'POST', route: '/fhir/:type', status: 415, issue: 'not-supported' },
      { ...(await send('/fhir/Patient', { method: 'POST', headers: fhir, body: JSON.stringify({ resourceType: 'Patient', gender: 'Dupontgender', birthDate: '1970-13-45' }) })), method: 'POST', route: '/fhir/:type', status: 422 },
      { ...(await send('/fhir/Patient', { method: 'POST', headers: fhir, body: JSON.stringify({ resourceType: 'Patient' }) }, patientToken)), method: 'POST', route: '/fhir/:type', status: 403, issue: 'forbidden' },
      { ...(await send('/fhir/Patient', {}, 'not-a-jwt')), method: 'GET', route: '/fhir/:type', status: 401, issue: 'login' },
      { ...(await send('/fhir/Patient/a_b!')), method: 'GET', route: '/fhir/:type/:id', status: 400, issue: 'invalid' },
    ];
    // The log is written asynchronously: wait for the last request's line.
    const lines = async () => server.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    for (let i = 0; i < 100 && !(await lines()).some((l) => l.reqId === sent.at(-1)!.id); i++) await new Promise((r) => setTimeout(r, 50));
    const all = await lines();
    for (const want of sent) {
      const mine = all.filter((l) => l.reqId === want.id);
      expect(mine, JSON.stringify(want)).toHaveLength(1);
      const line = mine[0]!;
      expect(line).toMatchObject({ msg: 'request', method: want.method, route: want.route, status: want.status });
      expect(typeof line.ms).toBe('number');
      if (want.status >= 400) {
        expect(line.issue, JSON.stringify(line)).toBe(want.issue ?? line.issue);
        expect(typeof line.issue).toBe('string');
        expect(line.reason.length, JSON.stringify(line)).toBeGreaterThan(10);
        expect(line.issues).toBeGreaterThan(0);
      } else {
        expect(line.issue).toBeUndefined();
      }
    }
    expect(all.find((l) => l.reqId === sent[3]!.id)!.issues).toBeGreaterThan(1);
    expect(server.stdout()).not.toMatch(/Secretname|Dupont|1970-13-45|not-a-jwt/);
  }, PROCESS_TIMEOUT);
});

it('a test run without MONGODB_URI says why the MongoDB engine tests were skipped', async () => {
  const { MONGODB_URI: _uri, ...env } = process.env;
  const vitest = join(new URL('..', import.meta.url).pathname, 'node_modules/vitest/vitest.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [vitest, 'run', 'src/store/mongo/claims.test.ts'], { cwd: new URL('..', import.meta.url).pathname, env: { ...env, NO_COLOR: '1' } });
  expect(stdout).toMatch(/1 skipped/);
  expect(stdout).toMatch(/MongoDB engine tests skipped: MONGODB_URI is not set/);
}, PROCESS_TIMEOUT);
