import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ensureLocalIssuer } from '../src/auth/local-issuer.js';
import { describeEngines } from './harness.js';
import { PROCESS_TIMEOUT, startProcess, type Running } from './processes.js';

const REQUEST_ID = 'urn:carnet:request-id';

interface AuditEvent {
  entity?: Array<{ what?: { identifier?: { system?: string; value: string } } }>;
}
/** Bounds of the load: clients at once; the kill after this many answers or this long, whichever comes first; requests at most. */
const CLIENTS = 16;
const ANSWERS_BEFORE_KILL = 100;
const KILL_AFTER_MS = 10_000;
const MAX_REQUESTS = 3000;
/** What the requests answer: a read, a create, a hidden or missing resource. */
const KINDS = [200, 201, 404];

describeEngines('access history survives kill -9 (issue 15)', (engine) => {
  const dirs: string[] = [];
  const running: Running[] = [];
  afterAll(() => {
    for (const run of running) if (run.child.exitCode === null) run.child.kill('SIGKILL');
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('every request that got an answer before SIGKILL has its AuditEvent after the restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'carnet-kill-'));
    dirs.push(dataDir);
    const env = {
      CARNET_DATA_DIR: dataDir,
      CARNET_WORKERS: '1',
      ...(engine === 'mongodb' ? { MONGODB_URI: process.env.MONGODB_URI!, MONGODB_DB: `carnet_kill_${process.pid}_${Date.now()}` } : {}),
    };
    const token = await (await ensureLocalIssuer(dataDir)).sign({ scope: 'system/*.cruds' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };

    const first = await startProcess(env);
    running.push(first);
    const base = `http://127.0.0.1:${first.port}/fhir`;
    const created = await fetch(`${base}/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Lefèvre' }] }) });
    expect(created.status).toBe(201);
    const patient = ((await created.json()) as { id: string }).id;

    // Reads, searches, creates and hidden 404s, from 16 clients at once, until the kill.
    const requests: Array<() => Promise<Response>> = [
      () => fetch(`${base}/Patient/${patient}`, { headers }),
      () => fetch(`${base}/Observation?subject=Patient/${patient}&_count=5`, { headers }),
      () => fetch(`${base}/Patient/nobody-${Math.random().toString(36).slice(2)}`, { headers }),
      () =>
        fetch(`${base}/Observation`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'pouls' }, subject: { reference: `Patient/${patient}` }, valueQuantity: { value: 70, unit: '/min' } }),
        }),
    ];
    const answered: Array<{ id: string; status: number }> = [];
    let sent = 0;
    let failed = 0;
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      first.child.kill('SIGKILL');
    };
    // On a slow machine (a loaded FerretDB), the kill comes by time, still under load.
    const timer = setTimeout(kill, KILL_AFTER_MS);
    const client = async (n: number) => {
      while (!killed && sent < MAX_REQUESTS) {
        sent++;
        let res: Response;
        try {
          res = await requests[(n + sent) % requests.length]!();
        } catch {
          // No answer: the server died first. It owes this request nothing.
          failed++;
          if (killed) return;
          continue;
        }
        // The status line and headers came back: the request was answered, whatever happens to the body.
        answered.push({ id: res.headers.get('x-request-id')!, status: res.status });
        await res.arrayBuffer().catch(() => undefined);
        // Creates answer slower than reads: the kill waits for one of each kind to be answered.
        if (answered.length >= ANSWERS_BEFORE_KILL && KINDS.every((k) => answered.some((a) => a.status === k))) kill();
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    clearTimeout(timer);
    kill();
    expect((await first.exited).signal).toBe('SIGKILL');
    // Killed under load: some requests were in flight and got no answer.
    expect(failed).toBeGreaterThan(0);
    expect(answered.length).toBeGreaterThanOrEqual(CLIENTS);
    expect(new Set(answered.map((a) => a.status))).toEqual(new Set(KINDS));

    const second = await startProcess(env);
    running.push(second);
    const again = `http://127.0.0.1:${second.port}/fhir`;
    // Every event recorded, page after page (one search per request id would scan every time on FerretDB).
    const recorded = new Set<string>();
    let url: string | undefined = `${again}/AuditEvent?_count=1000`;
    while (url) {
      const res: Response = await fetch(url, { headers });
      expect(res.status).toBe(200);
      const bundle = (await res.json()) as { entry?: Array<{ resource: AuditEvent }>; link?: Array<{ relation: string; url: string }> };
      for (const { resource } of bundle.entry ?? []) {
        for (const e of resource.entity ?? []) if (e.what?.identifier?.system === REQUEST_ID) recorded.add(e.what.identifier.value);
      }
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
    const missing = answered.map((a) => a.id).filter((id) => !recorded.has(id));
    expect(missing, `${missing.length} of ${answered.length} answered requests have no AuditEvent`).toEqual([]);
    second.child.kill('SIGTERM');
    await second.exited;
  }, PROCESS_TIMEOUT);
});
