import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLmdbStore } from '../store/lmdb/lmdb-store.js';
import type { Store } from '../store/store.js';
import { createScheduler, type Job } from './scheduler.js';

const log = { info: () => undefined, error: () => undefined };

describe('scheduler', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'carnet-scheduler-'));
    store = await createLmdbStore({ path: dir });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  };

  it('runs a job in one process at a time across schedulers sharing a store', async () => {
    const release = gate();
    const started = gate();
    let runs = 0;
    const job: Job = { name: 'j', cron: '0 2 * * *', run: async () => { runs++; started.open(); await release.opened; return 'done'; } };
    const a = createScheduler({ store, now: () => new Date(), log });
    const b = createScheduler({ store, now: () => new Date(), log });
    a.add(job);
    b.add(job);
    const first = a.runNow('j');
    await started.opened;
    expect(await b.runNow('j')).toEqual({ ran: false });
    release.open();
    expect(await first).toEqual({ ran: true, result: 'done' });
    // Released at the end: the other process may run it now.
    expect(await b.runNow('j')).toEqual({ ran: true, result: 'done' });
    expect(runs).toBe(2);
  });

  it('a run whose lease is lost is aborted; stop() aborts running jobs', async () => {
    const started = gate();
    let reason: unknown;
    const job: Job = {
      name: 'long', cron: '* * * * *',
      run: ({ signal }) => new Promise((resolve) => { started.open(); signal.addEventListener('abort', () => { reason = signal.reason; resolve('stopped'); }); }),
    };
    const a = createScheduler({ store, now: () => new Date(), log, leaseMs: 60 });
    a.add(job);
    const run = a.runNow('long');
    await started.opened;
    // Another holder takes the lease behind a's back (as after an expiry); a's next renewal fails.
    const entry = (await store.getState('lease:job:long'))!;
    expect(await store.putState('lease:job:long', { holder: 'other', until: Date.now() + 60_000 }, entry.rev)).toBe(true);
    expect(await run).toEqual({ ran: true, result: 'stopped' });
    expect(String(reason)).toMatch(/lease of long was lost/);

    const b = createScheduler({ store, now: () => new Date(), log });
    const again = gate();
    b.add({ ...job, name: 'other-job', run: ({ signal }) => new Promise((resolve) => { again.open(); signal.addEventListener('abort', () => resolve('stopped')); }) });
    const pending = b.runNow('other-job');
    await again.opened;
    await b.stop();
    expect(await pending).toEqual({ ran: true, result: 'stopped' });
  });

  it('stop() waits for a run still taking its lease, which then does not start', async () => {
    // The lease's read held back, as on a busy store: stop() comes in between.
    const held = gate();
    const reading = gate();
    const getState = store.getState.bind(store);
    store.getState = async (key: string) => {
      reading.open();
      await held.opened;
      return getState(key);
    };
    const s = createScheduler({ store, now: () => new Date(), log });
    let started = false;
    s.add({ name: 'late', cron: '* * * * *', run: async () => (started = true) });
    const run = s.runNow('late');
    await reading.opened;
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    held.open();
    await stopping;
    expect(await run).toEqual({ ran: false });
    expect(started).toBe(false);
    // Nothing is left holding the lease, and a stopped scheduler starts nothing more.
    store.getState = getState;
    expect((await store.getState('lease:job:late'))?.value).toBeUndefined();
    expect(await s.runNow('late')).toEqual({ ran: false });
  });

  it('refuses an invalid cron expression, naming the job', () => {
    const a = createScheduler({ store, now: () => new Date(), log });
    expect(() => a.add({ name: 'bad', cron: 'every day', run: async () => undefined })).toThrow(/job bad: "every day" is not a valid cron/);
  });
});
