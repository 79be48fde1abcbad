import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import type { Store } from '../store/store.js';
import { acquireLease, type Lease } from './lease.js';

export interface JobLog {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface JobContext {
  now: () => Date;
  log: JobLog;
  /** Aborted when the lease was lost or the scheduler stops: the job stops at its next batch. */
  signal: AbortSignal;
}

/** A job run on a schedule, by one process at a time across every process and server on the store. */
export interface Job {
  name: string;
  /** A node-cron expression (5 fields, or 6 with seconds). */
  cron: string;
  /** IANA time zone of the expression; default Europe/Paris. */
  timezone?: string;
  /** Runs once; resumable: a run that stopped midway (crash, lost lease) is taken up by the next one. */
  run(ctx: JobContext): Promise<unknown>;
}

export interface RunOutcome {
  /** False when another process held the job's lease: it was running there. */
  ran: boolean;
  result?: unknown;
}

export interface Scheduler {
  /** Registers a job; throws on an invalid cron expression, naming the job. */
  add(job: Job): void;
  /** Starts the cron timers. Without it, jobs run only through runNow. */
  start(): void;
  /** Runs a job now under its lease (what the cron timer does on each tick). */
  runNow(name: string): Promise<RunOutcome>;
  /** Stops the timers and aborts running jobs; resolves when they have stopped. */
  stop(): Promise<void>;
}

export interface SchedulerDeps {
  store: Store;
  now: () => Date;
  log: JobLog;
  /** How long a job's lease holds without renewal; renewed every third of it while the job runs. */
  leaseMs?: number;
}

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const jobs = new Map<string, Job>();
  const tasks: ScheduledTask[] = [];
  const running = new Set<Promise<unknown>>();
  const stopping = new AbortController();
  const holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  const leaseMs = deps.leaseMs ?? 60_000;

  const runUnderLease = async (job: Job, lease: Lease): Promise<unknown> => {
    const lost = new AbortController();
    const onStop = () => lost.abort(new Error('the scheduler stopped'));
    stopping.signal.addEventListener('abort', onStop);
    const timer = setInterval(() => {
      lease.renew().then(
        (held) => held || lost.abort(new Error(`the lease of ${job.name} was lost`)),
        (err: unknown) => lost.abort(err),
      );
    }, Math.max(10, Math.floor(leaseMs / 3)));
    try {
      return await job.run({ now: deps.now, log: deps.log, signal: lost.signal });
    } finally {
      clearInterval(timer);
      stopping.signal.removeEventListener('abort', onStop);
      await lease.release().catch(() => undefined);
    }
  };

  const runNow = async (name: string): Promise<RunOutcome> => {
    const job = jobs.get(name);
    if (!job) throw new Error(`no job named ${name}`);
    if (stopping.signal.aborted) return { ran: false };
    // Counted as running from the start, lease included: stop() waits for it, and the store is
    // not closed under a job that was still taking its lease (lmdb-js then ends the process).
    const run = (async (): Promise<RunOutcome> => {
      // Leases are about live processes: real time, not the injected clock of the jobs' calendar.
      const lease = await acquireLease(deps.store, `job:${name}`, holder, { ttlMs: leaseMs, now: () => new Date() });
      if (!lease) return { ran: false };
      if (stopping.signal.aborted) {
        await lease.release().catch(() => undefined);
        return { ran: false };
      }
      return { ran: true, result: await runUnderLease(job, lease) };
    })();
    running.add(run);
    try {
      return await run;
    } finally {
      running.delete(run);
    }
  };

  return {
    add(job) {
      if (!cron.validate(job.cron)) throw new Error(`job ${job.name}: "${job.cron}" is not a valid cron expression`);
      jobs.set(job.name, job);
    },
    start() {
      for (const job of jobs.values()) {
        const task = cron.schedule(
          job.cron,
          async () => {
            try {
              await runNow(job.name);
            } catch (err) {
              deps.log.error({ err, job: job.name }, 'a scheduled job failed; its next run takes it up');
            }
          },
          {
            name: job.name, timezone: job.timezone ?? 'Europe/Paris', noOverlap: true,
            // A tick skipped while the previous run goes on is how noOverlap works (a job every second
            // may take longer under load), not a warning for the operator's console.
            logger: {
              info: () => undefined, debug: () => undefined, warn: () => undefined,
              error: (message, err) => deps.log.error({ err, job: job.name }, String(message)),
            },
          },
        );
        tasks.push(task);
      }
    },
    runNow,
    async stop() {
      for (const task of tasks.splice(0)) await task.destroy();
      stopping.abort();
      await Promise.allSettled([...running]);
    },
  };
}
