import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ensureLocalIssuer } from '../src/auth/local-issuer.js';
import { createScheduler, type JobContext } from '../src/jobs/scheduler.js';
import { preventionJob, runPrevention, RUN_STATE, type PreventionJobDeps, type RunState } from '../src/prevention/job.js';
import { loadRules } from '../src/prevention/rules.js';
import { createSearchRegistry } from '../src/search/registry.js';
import { createValidator } from '../src/validation/validator.js';
import { describeEngines, startServer, useServer, type TestServer } from './harness.js';
import { ATC, NOW, patient, patientToken, planOf, post, vaccination } from './prevention-helpers.js';

const quiet = { info: () => undefined, error: () => undefined };

/** Every reminder on the server, as a system client sees them. */
async function reminders(s: TestServer, token: string): Promise<Array<Record<string, any>>> {
  const res = await s.request({ method: 'GET', url: '/fhir/CommunicationRequest?category=reminder&_count=1000', token });
  expect(res.status).toBe(200);
  return (res.body.entry ?? []).map((e: { resource: Record<string, any> }) => e.resource);
}

const ruleOf = (r: Record<string, any>) => r.reasonCode[0].coding[0].code as string;
const keys = (list: Array<Record<string, any>>) => list.map((r) => r.identifier[0].value as string);

async function runNow(s: TestServer): Promise<RunState> {
  const outcome = await s.app.scheduler.runNow('prevention');
  expect(outcome.ran).toBe(true);
  return outcome.result as RunState;
}

/** An infant due 2 vaccinations, a woman of 52 due 3 screenings, a man of 52 due 1. */
async function population(s: TestServer, token: string) {
  const infant = await post(s, token, patient('2026-04-06', 'male'));
  const woman = await post(s, token, patient('1974-02-01', 'female'));
  const man = await post(s, token, patient('1974-02-01', 'male'));
  return { infant, woman, man, due: 6 };
}

describeEngines('prevention reminders: the scheduled run', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => { s = server; system = token; }, {}, () => NOW);

  it('POST $prevention-run answers 202 at once with where to follow it; the run makes one reminder per due action, which the patient finds in CommunicationRequest?subject=', async () => {
    const { infant, due } = await population(s, system);
    const infantToken = await patientToken(s, infant);
    expect((await s.request({ method: 'POST', url: '/fhir/$prevention-run', token: infantToken })).status).toBe(403);

    const started = await s.request({ method: 'POST', url: '/fhir/$prevention-run', token: system });
    expect(started.status).toBe(202);
    expect(started.headers.location).toBe('http://carnet.test/fhir/$prevention-status');
    let status: Record<string, any> = {};
    for (let i = 0; i < 600 && status.status !== 'completed'; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      const res = await s.request({ method: 'GET', url: '/fhir/$prevention-status', token: system });
      expect(res.status).toBe(200);
      status = Object.fromEntries(res.body.parameter.map((p: Record<string, any>) => [p.name, p.valueCode ?? p.valueInteger ?? p.valueDate ?? p.valueInstant]));
    }
    expect(status).toMatchObject({ status: 'completed', date: '2026-06-10', patients: 3, total: 3, created: due, completed: 0 });

    const mine = await s.request({ method: 'GET', url: `/fhir/CommunicationRequest?subject=Patient/${infant}`, token: infantToken });
    expect(mine.status).toBe(200);
    const list = mine.body.entry.map((e: { resource: Record<string, any> }) => e.resource);
    expect(list.map(ruleOf).sort()).toEqual(['hexavalent', 'pneumocoque-nourrisson']);
    const hexa = list.find((r: Record<string, any>) => ruleOf(r) === 'hexavalent');
    expect(hexa).toMatchObject({
      status: 'active',
      category: [{ coding: [{ code: 'reminder' }] }],
      subject: { reference: `Patient/${infant}` },
      recipient: [{ reference: `Patient/${infant}` }],
      occurrencePeriod: { start: '2026-06-06', end: '2026-08-05' },
      identifier: [{ value: `hexavalent|Patient/${infant}|2026-06-06|2026-08-06` }],
    });
    expect(hexa.payload[0].contentString).toMatch(/vacciner votre enfant/);
    // The plan points at it.
    const { byRule } = await planOf(s, infantToken, infant);
    expect(byRule.hexavalent.reminder).toEqual({ reference: `CommunicationRequest/${hexa.id}` });
  });

  it('running again creates no duplicate; a vaccination that arrives completes its reminder on the next run', async () => {
    const before = await reminders(s, system);
    const again = await runNow(s);
    expect(again).toMatchObject({ status: 'completed', created: 0, completed: 0 });
    const after = await reminders(s, system);
    expect(keys(after).sort()).toEqual(keys(before).sort());
    expect(new Set(keys(after)).size).toBe(after.length);

    const hexa = after.find((r) => ruleOf(r) === 'hexavalent')!;
    const infant = hexa.subject.reference.slice('Patient/'.length);
    await post(s, system, vaccination(infant, ATC, 'J07CA09', '2026-06-12'));
    expect((await runNow(s)).completed).toBe(1);
    const read = await s.request({ method: 'GET', url: `/fhir/CommunicationRequest/${hexa.id}`, token: system });
    expect(read.body.status).toBe('completed');
  });

  it('a reminder the patient dismisses (revoked) or deletes stays so: the next runs do not make it again', async () => {
    const list = await reminders(s, system);
    const sein = list.find((r) => ruleOf(r) === 'depistage-cancer-sein')!;
    const colo = list.find((r) => ruleOf(r) === 'depistage-cancer-colorectal' && r.subject.reference === sein.subject.reference)!;
    const woman = sein.subject.reference.slice('Patient/'.length);
    const token = await patientToken(s, woman);
    const { meta: _meta, ...body } = sein;
    expect((await s.request({ method: 'PUT', url: `/fhir/CommunicationRequest/${sein.id}`, token, body: { ...body, status: 'revoked' } })).status).toBe(200);
    expect((await s.request({ method: 'DELETE', url: `/fhir/CommunicationRequest/${colo.id}`, token })).status).toBe(204);

    expect((await runNow(s)).created).toBe(0);
    await runNow(s);
    const after = await reminders(s, system);
    expect(after.filter((r) => ruleOf(r) === 'depistage-cancer-sein' && r.subject.reference === `Patient/${woman}`).map((r) => r.status)).toEqual(['revoked']);
    expect(after.filter((r) => ruleOf(r) === 'depistage-cancer-colorectal' && r.subject.reference === `Patient/${woman}`)).toEqual([]);
    // The action itself is still to do, and its reminder (dismissed) is named.
    const { byRule } = await planOf(s, token, woman);
    expect(byRule['depistage-cancer-sein']).toMatchObject({ status: 'due', reminder: { reference: `CommunicationRequest/${sein.id}` } });
  });
});

describeEngines('prevention reminders: a run that stops midway, and several schedulers', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => { s = server; system = token; }, { CARNET_PREVENTION_BATCH: '1' }, () => NOW);

  const deps = (): PreventionJobDeps => ({
    store: s.app.store, registry: createSearchRegistry(), baseUrl: s.baseUrl, rules: loadRules(), batchSize: 1, cron: '0 2 * * *',
    validation: { validator: createValidator(), limits: { binaryBytes: 1 << 20, maxStringLength: 1 << 20, maxArrayItems: 10_000, maxElements: 100_000 } },
    journal: s.app.auditor.journal,
  });

  it('a run stopped after its first batch is resumed where it stopped by the next one, with no duplicate', async () => {
    const { due } = await population(s, system);
    const stop = new AbortController();
    // The "crash": the run stops right after its first batch is written.
    const lines: Array<Record<string, unknown>> = [];
    const log = { info: (obj: object) => { lines.push(obj as Record<string, unknown>); if ((obj as { patients?: number }).patients === 1) stop.abort(); }, error: () => undefined };
    const ctx: JobContext = { now: () => NOW, log, signal: stop.signal };
    const stopped = await runPrevention(deps(), ctx);
    expect(stopped).toMatchObject({ status: 'running', patients: 1 });
    // Progress is logged per batch: patients done of the total, reminders created and completed, time left.
    expect(lines[0]).toMatchObject({ job: 'prevention', patients: 1, total: 3, completed: 0 });
    expect(lines[0]).toHaveProperty('created');
    expect(typeof lines[0].secondsLeft).toBe('number');
    const saved = (await s.app.store.getState(RUN_STATE))!.value as RunState;
    expect(saved).toMatchObject({ status: 'running', patients: 1, runId: stopped.runId });
    const firstBatch = (await reminders(s, system)).length;
    expect(firstBatch).toBeGreaterThan(0);
    expect(firstBatch).toBeLessThan(due);

    const resumed = await runNow(s);
    expect(resumed).toMatchObject({ status: 'completed', runId: stopped.runId, resumed: 1, patients: 3, created: due });
    const all = await reminders(s, system);
    expect(all.length).toBe(due);
    expect(new Set(keys(all)).size).toBe(due);
  });

  it('two schedulers on one store: one runs, the other finds the lease held; no duplicate', async () => {
    const before = await reminders(s, system);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const job = preventionJob(deps());
    const a = createScheduler({ store: s.app.store, now: () => NOW, log: quiet });
    const b = createScheduler({ store: s.app.store, now: () => NOW, log: quiet });
    a.add({ ...job, run: async (ctx) => { entered(); await gate; return job.run(ctx); } });
    b.add(job);
    await post(s, system, patient('2015-03-01', 'female'));
    const first = a.runNow('prevention');
    await inside;
    expect(await b.runNow('prevention')).toEqual({ ran: false });
    open();
    expect((await first).ran).toBe(true);
    const after = await reminders(s, system);
    // The girl of 11: HPV, MenACWY, the 11-13 booster and M'T dents.
    expect(after.length).toBe(before.length + 4);
    expect(new Set(keys(after)).size).toBe(after.length);
    await a.stop();
    await b.stop();
  });
});

describeEngines('prevention reminders: two servers on one store', (engine) => {
  it('run at once on both, then again: every due action has exactly one reminder', async () => {
    const dir = engine === 'lmdb' ? mkdtempSync(join(tmpdir(), 'carnet-two-')) : undefined;
    const shared: Record<string, string> = dir ? { CARNET_DATA_DIR: dir } : { MONGODB_DB: `carnet_test_prevention_${process.pid}_${Date.now()}` };
    const one = await startServer(engine, shared, () => NOW);
    const two = await startServer(engine, shared, () => NOW);
    // On a shared data directory, the servers trust the issuer kept there, not the harness's own.
    const issuer = dir ? await ensureLocalIssuer(dir) : undefined;
    const tokenOf = (server: TestServer) => (issuer ? issuer.sign({ scope: 'system/*.cruds' }) : server.token({ scope: 'system/*.cruds' }));
    try {
      const system = await tokenOf(one);
      const { due } = await population(one, system);
      const outcomes = await Promise.all([one.app.scheduler.runNow('prevention'), two.app.scheduler.runNow('prevention')]);
      expect(outcomes.some((o) => o.ran)).toBe(true);
      await two.app.scheduler.runNow('prevention');
      await one.app.scheduler.runNow('prevention');
      const all = await reminders(one, system);
      expect(all.length).toBe(due);
      expect(new Set(keys(all)).size).toBe(due);
      const systemTwo = await tokenOf(two);
      expect((await reminders(two, systemTwo)).length).toBe(due);
    } finally {
      await two.close();
      await one.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});
