import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { before, ConfigError, loadConfig } from '../src/config.js';
import { RETENTION_JOB } from '../src/audit/retention.js';
import { describeEngines, startServer, type TestServer } from './harness.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-05T10:00:00.000Z');

const param = (body: any, name: string) => body.parameter.find((p: any) => p.name === name);
const reason = (body: any): string | undefined => param(body, 'break')?.part.find((p: any) => p.name === 'reason').valueString;

describeEngines('access history: retention and the chains after it (issue 15)', (engine) => {
  let s: TestServer;
  let system: string;
  let clock = T0;
  let patient: string;
  let other: string;
  const ids: Record<string, string[]> = { t0: [], t3m: [] };

  const request = (method: string, url: string, body?: unknown) => s.request({ method, url, token: system, body });
  /** The events about a patient, newest first, as the system sees them. */
  const eventsOf = async (p: string): Promise<any[]> => {
    const res = await request('GET', `/fhir/AuditEvent?patient=Patient/${p}&_count=500&_sort=-date`);
    expect(res.status).toBe(200);
    return (res.body.entry ?? []).map((e: any) => e.resource);
  };
  const verify = async (p: string) => {
    const res = await request('GET', `/fhir/AuditEvent/$verify?patient=Patient/${p}`);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    return res.body;
  };
  /** Reads and writes about the patient at the clock's time; returns their events' ids. */
  const activity = async (): Promise<string[]> => {
    const before = new Set((await eventsOf(patient)).map((e) => e.id));
    const obs = await request('POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient/${patient}` } });
    expect(obs.status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await request('GET', `/fhir/Patient/${patient}`)).status).toBe(200);
    expect((await request('GET', `/fhir/Observation?subject=Patient/${patient}`)).status).toBe(200);
    expect((await request('PUT', `/fhir/Observation/${obs.body.id}`, { ...obs.body, status: 'amended' })).status).toBe(200);
    return (await eventsOf(patient)).map((e) => e.id).filter((id) => !before.has(id));
  };

  beforeAll(async () => {
    s = await startServer(engine, {}, () => new Date(clock));
    system = await s.token({ scope: 'system/*.cruds' });
    patient = (await request('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Roux' }] })).body.id;
    other = (await request('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Blanc' }] })).body.id;
    ids.t0 = await activity();
    expect((await request('GET', `/fhir/Patient/${other}`)).status).toBe(200);
    clock = T0 + 90 * DAY;
    ids.t3m = await activity();
  });
  afterAll(async () => s?.close());

  it('removes for good the reads past 6 months and the writes past 10 years, and the chains still verify', async () => {
    const all = await eventsOf(patient);
    const kind = (id: string) => all.find((e) => e.id === id).action;
    const oldReads = ids.t0.filter((id) => !['C', 'U', 'D'].includes(kind(id)));
    const oldWrites = ids.t0.filter((id) => ['C', 'U', 'D'].includes(kind(id)));
    expect(oldReads.length).toBeGreaterThanOrEqual(4);
    expect(oldWrites.length).toBe(2);
    await s.app.auditor.journal.flushHeads();
    expect(param(await verify(patient), 'result').valueBoolean).toBe(true);

    // Seven months on: the reads of T0 go, its writes stay, the events of T0 + 3 months stay.
    clock = T0 + 212 * DAY;
    expect((await s.app.scheduler.runNow(RETENTION_JOB)).result).toMatchObject({ reads: expect.any(Number), writes: 0 });
    const left = new Set((await eventsOf(patient)).map((e) => e.id));
    expect(oldReads.filter((id) => left.has(id))).toEqual([]);
    expect(oldWrites.every((id) => left.has(id))).toBe(true);
    expect(ids.t3m.every((id) => left.has(id))).toBe(true);
    // Gone for good: no read, no version, no history.
    for (const id of oldReads) {
      expect((await request('GET', `/fhir/AuditEvent/${id}`)).status).toBe(404);
      expect((await request('GET', `/fhir/AuditEvent/${id}/_history/1`)).status).toBe(404);
      expect(await s.app.store.read('AuditEvent', id)).toBeUndefined();
    }
    const history = await request('GET', '/fhir/AuditEvent/_history?_count=1000');
    expect(history.body.entry.map((e: any) => e.resource?.id).filter((id: string) => oldReads.includes(id))).toEqual([]);
    // The read of the other patient, at T0 too, went as well.
    const ofOther = (await eventsOf(other)).filter((e) => Date.parse(e.recorded) < T0 + DAY);
    expect(ofOther.map((e) => e.action)).toEqual(['C']);

    await s.app.auditor.journal.flushHeads();
    const after = await verify(patient);
    expect(reason(after)).toBeUndefined();
    expect(param(after, 'result').valueBoolean).toBe(true);
    expect(param(await verify(other), 'result').valueBoolean).toBe(true);

    // A second run finds nothing more to remove.
    expect((await s.app.scheduler.runNow(RETENTION_JOB)).result).toEqual({ reads: 0, writes: 0 });

    // Ten years and a day on: the writes of T0 go too.
    clock = T0 + (3653 + 1) * DAY;
    const later = (await s.app.scheduler.runNow(RETENTION_JOB)).result as { writes: number };
    expect(later.writes).toBeGreaterThanOrEqual(oldWrites.length);
    const kept = new Set((await eventsOf(patient)).map((e) => e.id));
    expect(ids.t0.filter((id) => kept.has(id))).toEqual([]);
    // Reads of T0 + 3 months are past their 6 months; its writes have years left.
    expect(ids.t3m.filter((id) => kept.has(id)).map(kind).sort()).toEqual(['C', 'U']);
    await s.app.auditor.journal.flushHeads();
    expect(param(await verify(patient), 'result').valueBoolean).toBe(true);
  });

  it('after retention, the events removed behind the server\'s back at the end of a chain break it', async () => {
    clock = T0 + (3653 + 2) * DAY;
    const obs = await request('POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'taille' }, subject: { reference: `Patient/${patient}` } });
    expect((await request('PUT', `/fhir/Observation/${obs.body.id}`, { ...obs.body, status: 'amended' })).status).toBe(200);
    await s.app.auditor.journal.flushHeads();
    expect(param(await verify(patient), 'result').valueBoolean).toBe(true);

    // The newest writes about the patient are erased: their chain no longer reaches its head.
    // (Reads would do as well, but each request of this test adds a read to the patient's reads chain.)
    const writes = (await eventsOf(patient)).filter((e) => ['C', 'U', 'D'].includes(e.action)).slice(0, 2);
    expect(writes.map((e) => e.action).sort()).toEqual(['C', 'U']);
    await s.app.store.erase(writes.map((e) => ({ type: 'AuditEvent', id: e.id })));
    const bad = await verify(patient);
    expect(param(bad, 'result').valueBoolean).toBe(false);
    expect(reason(bad)).toMatch(/^the chain ends at position \d+ but its head is at \d+: its last events are missing$/);
  });
});

describe('access history retention: configuration', () => {
  it('defaults to 6 months for reads and 10 years for writes, takes ISO 8601 durations, refuses anything else naming the variable', () => {
    expect(loadConfig({}).auditRetention).toEqual({ reads: { years: 0, months: 6, days: 0 }, writes: { years: 10, months: 0, days: 0 } });
    expect(loadConfig({ CARNET_AUDIT_RETENTION_READS: 'P1Y6M', CARNET_AUDIT_RETENTION_WRITES: 'P400D' }).auditRetention).toEqual({
      reads: { years: 1, months: 6, days: 0 },
      writes: { years: 0, months: 0, days: 400 },
    });
    for (const bad of ['6 months', 'P0D', 'PT6H', '-P6M', 'P']) {
      expect(() => loadConfig({ CARNET_AUDIT_RETENTION_READS: bad })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ CARNET_AUDIT_RETENTION_WRITES: 'ten years' })).toThrow(/ten years/);
    expect(before(new Date('2026-08-31T12:00:00Z'), { years: 0, months: 6, days: 0 }).toISOString()).toBe('2026-03-03T12:00:00.000Z');
    expect(before(new Date('2026-03-01T00:00:00Z'), { years: 10, months: 0, days: 1 }).toISOString()).toBe('2016-02-29T00:00:00.000Z');
  });
});
