import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { TEXTS } from '../src/notify/notice.js';
import { plan } from '../src/prevention/engine.js';
import { runPrevention, RUN_STATE, type RunState } from '../src/prevention/job.js';
import { reconcile } from '../src/prevention/reminder.js';
import { loadRules, rulesDir } from '../src/prevention/rules.js';
import { createSearchRegistry } from '../src/search/registry.js';
import { createValidator } from '../src/validation/validator.js';
import { describeEngines, useServer, type TestServer } from './harness.js';
import { ATC, NOW, patient, patientToken, post, vaccination } from './prevention-helpers.js';

/** On FerretDB (filters evaluated in process), with the suite's other files on two cores, a test of a dozen runs and searches can pass the default minute. */
const SLOW = 240_000;

const ruleOf = (r: Record<string, any>) => r.reasonCode[0].coding[0].code as string;
const entries = (res: { body: any }) => (res.body.entry ?? []).map((e: { resource: Record<string, any> }) => e.resource) as Array<Record<string, any>>;

async function runNow(s: TestServer): Promise<RunState> {
  const outcome = await s.app.scheduler.runNow('prevention');
  expect(outcome.ran).toBe(true);
  return outcome.result as RunState;
}

/** The patient's reminders, as the patient reads their agenda (`status=active`: the live ones). */
async function agenda(s: TestServer, token: string, id: string, status?: string) {
  const res = await s.request({ method: 'GET', url: `/fhir/CommunicationRequest?subject=Patient/${id}${status ? `&status=${status}` : ''}&_count=100`, token });
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  return entries(res);
}

/** The notifications that reminders fell due, as the patient reads them. */
async function dueNotices(s: TestServer, token: string, id: string) {
  const res = await s.request({ method: 'GET', url: `/fhir/Communication?recipient=Patient/${id}&category=urn:carnet:notification|reminder-due&_count=100`, token });
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  return entries(res);
}

/** Each reminder is announced by exactly one notification. */
function announced(notices: Array<Record<string, any>>): string[] {
  return notices.flatMap((n) => n.about.map((a: { reference: string }) => a.reference)).sort();
}

describeEngines('prevention reminders: the notification when a reminder falls due', (engine) => {
  let s: TestServer;
  let system: string;
  let clock = NOW;
  useServer(engine, (server, token) => { s = server; system = token; }, {}, () => clock);

  it('a run notifies the patient once of the reminders that fell due, with no health data; again only when another falls due, whatever the number of runs', async () => {
    const infant = await post(s, system, patient('2026-04-06', 'male'));
    const token = await patientToken(s, infant);
    await runNow(s);
    const first = await agenda(s, token, infant);
    expect(first.map(ruleOf).sort()).toEqual(['hexavalent', 'pneumocoque-nourrisson']);
    let notices = await dueNotices(s, token, infant);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      status: 'completed',
      subject: { reference: `Patient/${infant}` },
      recipient: [{ reference: `Patient/${infant}` }],
      sent: NOW.toISOString(),
      payload: [{ contentString: TEXTS.remindersDue(2) }],
    });
    expect(announced(notices)).toEqual(first.map((r) => `CommunicationRequest/${r.id}`).sort());
    // The notification says that reminders came, not what for: no rule, title or text of a reminder.
    const json = JSON.stringify(notices[0]);
    for (const r of first) for (const word of [ruleOf(r), r.reasonCode[0].text, r.payload[0].contentString]) expect(json).not.toContain(word);

    await runNow(s);
    await runNow(s);
    expect(await dueNotices(s, token, infant)).toHaveLength(1);

    // A month later the meningococcus B vaccination (at 3 months) falls due: its reminder, and one notification of it.
    clock = new Date('2026-07-10T10:00:00Z');
    await runNow(s);
    await runNow(s);
    const menB = (await agenda(s, token, infant)).find((r) => ruleOf(r) === 'meningocoque-b-nourrisson')!;
    expect(menB.status).toBe('active');
    notices = await dueNotices(s, token, infant);
    expect(notices).toHaveLength(2);
    const latest = notices.find((n) => n.sent === clock.toISOString())!;
    expect(latest.about).toEqual([{ reference: `CommunicationRequest/${menB.id}` }]);
    expect(latest.payload).toEqual([{ contentString: TEXTS.remindersDue(1) }]);
    expect(announced(notices)).toEqual((await agenda(s, token, infant)).map((r) => `CommunicationRequest/${r.id}`).sort());
  }, SLOW);
});

describeEngines('prevention reminders: notifications of a run that stops midway', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => { s = server; system = token; }, { CARNET_PREVENTION_BATCH: '1' }, () => NOW);

  it('a run stopped after a batch, or stopped after writing a batch but before saving where it was, announces each reminder once when resumed', async () => {
    const ids = [await post(s, system, patient('2026-04-06', 'male')), await post(s, system, patient('1974-02-01', 'female')), await post(s, system, patient('1974-02-01', 'male'))];
    const stop = new AbortController();
    const log = { info: (obj: object) => { if ((obj as { patients?: number }).patients === 1) stop.abort(); }, error: () => undefined };
    const deps = {
      store: s.app.store, registry: createSearchRegistry(), baseUrl: s.baseUrl, rules: loadRules(), batchSize: 1, cron: '0 2 * * *',
      validation: { validator: createValidator(), limits: { binaryBytes: 1 << 20, maxStringLength: 1 << 20, maxArrayItems: 10_000, maxElements: 100_000 } },
      journal: s.app.auditor.journal,
    };
    expect(await runPrevention(deps, { now: () => NOW, log, signal: stop.signal })).toMatchObject({ status: 'running', patients: 1 });
    const done = await runNow(s);
    expect(done).toMatchObject({ status: 'completed', resumed: 1, patients: 3 });

    // The "crash" after the last batches were committed and before their cursor was saved: the next run does them again.
    const entry = (await s.app.store.getState(RUN_STATE))!;
    expect(await s.app.store.putState(RUN_STATE, { ...(entry.value as RunState), status: 'running', cursor: '', patients: 0 }, entry.rev)).toBe(true);
    expect(await runNow(s)).toMatchObject({ status: 'completed', resumed: 2, created: done.created });
    await runNow(s);

    for (const id of ids) {
      const token = await patientToken(s, id);
      const reminders = await agenda(s, token, id);
      expect(reminders.length).toBeGreaterThan(0);
      const notices = await dueNotices(s, token, id);
      expect(notices).toHaveLength(1);
      expect(announced(notices)).toEqual(reminders.map((r) => `CommunicationRequest/${r.id}`).sort());
    }
  }, SLOW);
});

describeEngines('prevention reminders: past cycles, and the access history of the job', (engine) => {
  let s: TestServer;
  let system: string;
  let clock = NOW;
  useServer(engine, (server, token) => { s = server; system = token; }, {}, () => clock);

  /** The patient's access history: the events the prevention job recorded. */
  const jobEvents = async (token: string, id: string) => {
    const res = await s.request({ method: 'GET', url: `/fhir/AuditEvent?patient=Patient/${id}&_count=200`, token });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    return entries(res).filter((e) => e.agent.some((a: any) => a.who?.identifier?.value === 'carnet-prevention'));
  };

  it("M'T dents a year later, never done: last year's reminder is closed as lapsed (revoked, statusReason lapsed), and the agenda holds one live reminder of it", async () => {
    const girl = await post(s, system, patient('2015-03-01', 'female'));
    const token = await patientToken(s, girl);
    await runNow(s);
    const before = (await agenda(s, token, girl)).filter((r) => ruleOf(r) === 'mt-dents');
    expect(before.map((r) => [r.status, r.occurrencePeriod])).toEqual([['active', { start: '2026-03-01', end: '2027-02-28' }]]);

    clock = new Date('2027-03-05T10:00:00Z');
    const run = await runNow(s);
    expect(run.closed).toBe(1);
    expect(run.completed).toBe(0);
    const live = (await agenda(s, token, girl, 'active')).filter((r) => ruleOf(r) === 'mt-dents');
    expect(live.map((r) => r.occurrencePeriod)).toEqual([{ start: '2027-03-01', end: '2028-02-29' }]);
    const old = (await s.request({ method: 'GET', url: `/fhir/CommunicationRequest/${before[0].id}`, token })).body;
    expect(old.status).toBe('revoked');
    expect(old.statusReason).toEqual({ coding: [{ system: 'urn:carnet:prevention:status-reason', code: 'lapsed', display: 'Lapsed' }], text: expect.any(String) });
    // Closed once: the next runs leave it.
    expect((await runNow(s)).closed).toBe(0);
    const status = await s.request({ method: 'GET', url: '/fhir/$prevention-status', token: system });
    expect(status.body.parameter).toContainEqual({ name: 'closed', valueInteger: 0 });

    // The patient's access history says carnet added the reminders, then closed last year's.
    const events = await jobEvents(token, girl);
    const created = events.filter((e) => e.action === 'C');
    const updated = events.filter((e) => e.action === 'U');
    expect(created).toHaveLength(2);
    expect(updated).toHaveLength(1);
    for (const e of events) {
      expect(e.agent[0]).toMatchObject({ who: { display: 'carnet', identifier: { system: 'urn:carnet:client', value: 'carnet-prevention' } }, requestor: true });
      expect(e.entity).toContainEqual(expect.objectContaining({ what: { reference: `Patient/${girl}` }, role: expect.objectContaining({ code: '1' }) }));
      expect(e.outcome).toBe('0');
    }
    const mentioned = (e: Record<string, any>) => e.entity.filter((x: any) => x.what?.reference?.startsWith('CommunicationRequest/')).map((x: any) => x.what.reference);
    expect(mentioned(created.find((e) => e.recorded === NOW.toISOString())!)).toContain(`CommunicationRequest/${before[0].id}`);
    expect(mentioned(created.find((e) => e.recorded === clock.toISOString())!)).toContain(`CommunicationRequest/${live[0].id}`);
    expect(updated[0].entity).toContainEqual(expect.objectContaining({ what: { reference: `CommunicationRequest/${before[0].id}` }, name: before[0].reasonCode[0].text, description: 'période passée' }));
    // The job's events are links of the patient's chains like any other.
    const verify = await s.request({ method: 'GET', url: `/fhir/AuditEvent/$verify?patient=Patient/${girl}`, token: system });
    expect(verify.body.parameter).toContainEqual({ name: 'result', valueBoolean: true });
  }, SLOW);

  it('a reminder completed by the record is an update in the access history, by carnet', async () => {
    const girl = await post(s, system, patient('2015-03-01', 'female'));
    const token = await patientToken(s, girl);
    await runNow(s);
    const hpv = (await agenda(s, token, girl)).find((r) => ruleOf(r) === 'hpv')!;
    clock = new Date('2027-03-10T10:00:00Z');
    await post(s, system, vaccination(girl, ATC, 'J07BM03', '2027-03-06'));
    expect((await runNow(s)).completed).toBeGreaterThanOrEqual(1);
    const events = await jobEvents(token, girl);
    const update = events.find((e) => e.action === 'U' && e.entity.some((x: any) => x.what?.reference === `CommunicationRequest/${hpv.id}`))!;
    expect(update.entity).toContainEqual(expect.objectContaining({ what: { reference: `CommunicationRequest/${hpv.id}` }, description: 'fait' }));
    expect(update.subtype).toEqual([{ system: 'http://hl7.org/fhir/restful-interaction', code: 'update' }]);
    // The version says who wrote it.
    const history = await s.request({ method: 'GET', url: `/fhir/CommunicationRequest/${hpv.id}/_history`, token: system });
    expect(entries(history).map((r) => r.status)).toEqual(['completed', 'active']);
  }, SLOW);
});

describeEngines('prevention reminders: the job writes only what validates', (engine) => {
  const dir = mkdtempSync(join(tmpdir(), 'carnet-rules-invalid-'));
  // The calendar's M'T dents file, and a second rule of it whose text holds a form feed (a stray
  // character of an edited file): FHIR strings refuse it, the rule schema does not.
  const family = JSON.parse(readFileSync(join(rulesDir(), 'mt-dents.json'), 'utf8'));
  family.rules.push({ ...family.rules[0], code: 'mt-dents-bis', text: 'Prenez rendez-vous\fchez le dentiste.' });
  writeFileSync(join(dir, 'mt-dents.json'), JSON.stringify(family));
  writeFileSync(join(dir, 'rules.schema.json'), readFileSync(join(rulesDir(), 'rules.schema.json')));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => { s = server; system = token; }, { CARNET_PREVENTION_RULES: dir }, () => NOW);

  it('a reminder that does not validate is not written, and counted; the others are', async () => {
    const child = await post(s, system, patient('2015-03-01', 'female'));
    expect(await runNow(s)).toMatchObject({ created: 1, invalid: 1 });
    const token = await patientToken(s, child);
    expect((await agenda(s, token, child)).map(ruleOf)).toEqual(['mt-dents']);
    const status = await s.request({ method: 'GET', url: '/fhir/$prevention-status', token: system });
    expect(status.body.parameter).toContainEqual({ name: 'invalid', valueInteger: 1 });
    // A client's create of the same reminder is refused the same way.
    const rules = loadRules(dir);
    const record = { birthDate: '2015-03-01', gender: 'female', immunizations: [], observations: [], documents: [], reminders: [] };
    const { create } = reconcile(plan(rules, record, '2026-06-10'), new Map(rules.map((r) => [r.code, r])), record, { patientId: child, today: '2026-06-10', authoredOn: NOW.toISOString() });
    const bis = create.find((r) => ruleOf(r) === 'mt-dents-bis')!;
    const { id: _id, ...body } = bis;
    expect((await s.request({ method: 'POST', url: '/fhir/CommunicationRequest', token: system, body })).status).toBe(422);
  }, SLOW);
});

describeEngines('prevention reminders: with CARNET_AUDIT=off', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => { s = server; system = token; }, { CARNET_AUDIT: 'off' }, () => NOW);

  it('the job records no AuditEvent, and still notifies', async () => {
    const infant = await post(s, system, patient('2026-04-06', 'male'));
    expect(await runNow(s)).toMatchObject({ created: 2 });
    const events = await s.request({ method: 'GET', url: '/fhir/AuditEvent?_summary=count', token: system });
    expect(events.body.total).toBe(0);
    expect(await dueNotices(s, await patientToken(s, infant), infant)).toHaveLength(1);
  }, SLOW);
});
