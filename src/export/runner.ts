import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { FhirError, fhirError } from '../errors.js';
import { stringifyWithDecimals } from '../http/decimals.js';
import { presentInBundle } from '../interactions/binary.js';
import { subset } from '../interactions/subset.js';
import { acquireLease } from '../jobs/lease.js';
import type { JobLog } from '../jobs/scheduler.js';
import type { SearchRegistry } from '../search/registry.js';
import { SearchBudgetExceeded, type CurrentRecord, type Store } from '../store/store.js';
import { tooCostly } from '../interactions/executor.js';
import { allJobs, jobKey, MAX_NAMED_PATIENTS, readJob, runningJobsOf, type ExportFile, type ExportJob } from './job.js';
import { deletedFile } from './deleted.js';
import { removeFiles, writeFile } from './files.js';
import { filesOf } from './manifest.js';
import { exportFilters } from './scope.js';

export interface ExportLimits {
  /** Jobs one client may have running at once (CARNET_EXPORT_MAX_JOBS). */
  maxJobsPerClient: number;
  /** An NDJSON file is closed before it would pass this many bytes (CARNET_EXPORT_FILE_BYTES). */
  fileBytes: number;
  /** Records read per store query (keyset pages). */
  pageSize: number;
  /** How long a job's lease holds without renewal, ms: a job whose process died is taken up after it. */
  leaseMs: number;
  /** How long a finished job and its files are kept, ms (CARNET_EXPORT_KEEP). */
  keepMs: number;
  /** Records the _typeFilter sub-queries (chains, _has) of one job may examine together (CARNET_SEARCH_BUDGET). */
  searchBudget: number;
}

export interface ExportRunnerDeps {
  store: Store;
  registry: SearchRegistry;
  baseUrl: string;
  now: () => Date;
  log: JobLog;
  limits: ExportLimits;
  /** Awaited before each file is written (tests hold a job midway with it; it should reject when the signal aborts). */
  beforeFile?: (job: ExportJob, signal: AbortSignal) => Promise<void>;
}

export interface ExportRunner {
  /** Records a new job (429 past the client's limit of running jobs) and starts it in the background. */
  kickOff(job: ExportJob): Promise<void>;
  /** The requester's job, or undefined (another client's job is not found either). */
  find(subject: string, id: string): Promise<ExportJob | undefined>;
  /** Removes the requester's job and its files' bytes; a running job stops at its next file. False when not found. */
  cancel(subject: string, id: string): Promise<boolean>;
  /** Removes the jobs finished more than keepMs ago, and those a crash left half removed; returns how many. */
  expire(): Promise<number>;
  readonly keepMs: number;
  /** Takes up the running jobs no live process holds (after a restart or a crash). */
  resume(): Promise<void>;
  /** Stops the jobs of this process at their next page; they stay running in the store, for the next process. */
  stop(): Promise<void>;
}

const LINES_PER_CHUNK = 256;

/** The records of one type after the cursor, a keyset page at a time, each with its NDJSON line. */
function typeReader(store: Store, type: string, filter: Record<string, unknown>, after: string | undefined, pageSize: number, line: (r: CurrentRecord) => string, signal: AbortSignal) {
  let page: CurrentRecord[] = [];
  let i = 0;
  let done = false;
  let last = after;
  return {
    async peek(): Promise<{ record: CurrentRecord; line: string } | undefined> {
      if (i >= page.length && !done) {
        if (signal.aborted) throw signal.reason;
        // Sorted by id (the engines' tie-break within a type): the page after the last id read.
        const f = last === undefined ? filter : { $and: [filter, { id: { $gt: last } }] };
        page = (await store.search({ types: [type], filter: f, sort: [], offset: 0, limit: pageSize, count: false })).records;
        i = 0;
        done = page.length < pageSize;
        if (page.length > 0) last = page[page.length - 1]!.id;
      }
      const record = page[i];
      return record ? { record, line: line(record) } : undefined;
    },
    take(): void {
      page[i++] = undefined as unknown as CurrentRecord;
    },
  };
}

export function createExportRunner(deps: ExportRunnerDeps): ExportRunner {
  const holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  const stopping = new AbortController();
  const running = new Map<string, Promise<void>>();
  const { limits } = deps;

  /** Writes the job's remaining files; each file recorded in the job's state before the next begins. */
  async function work(key: string, signal: AbortSignal): Promise<void> {
    let found = await readJob(deps.store, key);
    if (!found || found.job.status !== 'running') return;
    let { job, rev } = found;
    const filters = await exportFilters(job, { ...deps, searchBudget: limits.searchBudget });
    const patients = job.patients ? new Set(job.patients) : undefined;
    let morePatients = job.morePatients ?? false;
    const cover = (r: CurrentRecord): void => {
      if (!patients || morePatients) return;
      for (const p of r.type === 'Patient' ? [`Patient/${r.id}`] : r.comp) {
        if (patients.has(p)) continue;
        if (patients.size >= MAX_NAMED_PATIENTS) morePatients = true;
        else patients.add(p);
      }
    };
    const covered = () => (patients ? { patients: [...patients], ...(morePatients ? { morePatients } : {}) } : {});
    const save = async (next: ExportJob): Promise<boolean> => {
      if (!(await deps.store.putState(key, next, rev))) return false;
      rev += 1;
      job = next;
      return true;
    };
    while (job.cursor.type < job.types.length) {
      const type = job.types[job.cursor.type]!;
      const elements = [...(job.params.elements?.['*'] ?? []), ...(job.params.elements?.[type] ?? [])];
      const line = (r: CurrentRecord) => `${stringifyWithDecimals(subset(presentInBundle(r.resource!), undefined, elements.length ? elements : undefined))}\n`;
      const reader = typeReader(deps.store, type, await filters.filter(type), job.cursor.after, limits.pageSize, line, signal);
      while (await reader.peek()) {
        await deps.beforeFile?.(job, signal);
        let count = 0;
        let lastId = job.cursor.after;
        const content = async function* (): AsyncGenerator<Uint8Array> {
          let bytes = 0;
          let lines: string[] = [];
          for (let next = await reader.peek(); next; next = await reader.peek()) {
            const size = Buffer.byteLength(next.line);
            if (bytes > 0 && bytes + size > limits.fileBytes) break;
            reader.take();
            cover(next.record);
            bytes += size;
            count += 1;
            lastId = next.record.id;
            lines.push(next.line);
            if (lines.length >= LINES_PER_CHUNK) {
              yield Buffer.from(lines.join(''));
              lines = [];
            }
          }
          if (lines.length > 0) yield Buffer.from(lines.join(''));
        };
        const file: ExportFile = { type, ...(await writeFile(deps.store, content())), count };
        const next: ExportJob = { ...job, cursor: { type: job.cursor.type, after: lastId }, output: [...job.output, file], exported: job.exported + count, ...covered() };
        // A job removed meanwhile (DELETE) fails this write: it stops here, and the file it wrote is no one's.
        if (!(await save(next))) return removeFiles(deps.store, [file]);
        if (signal.aborted) return;
      }
      if (!(await save({ ...job, cursor: { type: job.cursor.type + 1 } }))) return;
    }
    if (job.params.since && !job.deleted) {
      const file = await deletedFile(deps.store, job, filters.scope, signal);
      if (!(await save({ ...job, deleted: file ? [file] : [] }))) return removeFiles(deps.store, file ? [file] : []);
    }
    await save({ ...job, status: 'done', finishedAt: deps.now().toISOString() });
  }

  async function run(key: string): Promise<void> {
    const lease = await acquireLease(deps.store, key, holder, { ttlMs: limits.leaseMs, now: () => new Date() });
    if (!lease) return;
    const lost = new AbortController();
    const onStop = () => lost.abort(new Error('the server is stopping'));
    stopping.signal.addEventListener('abort', onStop);
    const timer = setInterval(() => {
      lease.renew().then((held) => held || lost.abort(new Error('the lease of the export was lost')), (err: unknown) => lost.abort(err));
    }, Math.max(10, Math.floor(limits.leaseMs / 3)));
    try {
      await work(key, lost.signal);
    } catch (thrown) {
      if (lost.signal.aborted) return;
      // A client's error (a _typeFilter past the search budget, a chain matching too much) is told as
      // it is, with its 4xx status; anything else is the server's.
      const err = thrown instanceof SearchBudgetExceeded ? tooCostly(thrown) : thrown;
      const told = err instanceof FhirError && err.status < 500;
      if (!told) deps.log.error({ err, job: key }, 'an export job failed');
      const error = told ? `The export stopped: ${err.message}` : 'The export failed on the server; see its log';
      const found = await readJob(deps.store, key).catch(() => undefined);
      if (found?.job.status === 'running') {
        // A failed job's files are never served: their bytes go now.
        const failed: ExportJob = { ...found.job, status: 'failed', finishedAt: deps.now().toISOString(), error, output: [], deleted: [], ...(told ? { failure: { status: err.status, issues: err.issues } } : {}) };
        if (await deps.store.putState(key, failed, found.rev).catch(() => false)) await removeFiles(deps.store, filesOf(found.job)).catch(() => undefined);
      }
    } finally {
      clearInterval(timer);
      stopping.signal.removeEventListener('abort', onStop);
      await lease.release().catch(() => undefined);
    }
  }

  const expired = (job: ExportJob): boolean => Date.parse(job.finishedAt ?? job.transactionTime) + limits.keepMs <= deps.now().getTime();

  /**
   * Marks the job cancelled (no one finds it from then on, and a running job's next save fails),
   * deletes its files' bytes, then the job. A crash in between leaves it cancelled, for expire().
   */
  async function remove(key: string, removable: (job: ExportJob) => boolean): Promise<boolean> {
    for (;;) {
      const found = await readJob(deps.store, key);
      if (!found || !removable(found.job)) return false;
      if (!(await deps.store.putState(key, { ...found.job, status: 'cancelled' }, found.rev))) continue;
      await removeFiles(deps.store, filesOf(found.job));
      await deps.store.putState(key, undefined, found.rev + 1);
      return true;
    }
  }

  const start = (key: string): void => {
    if (running.has(key) || stopping.signal.aborted) return;
    const p = run(key)
      .catch((err: unknown) => deps.log.error({ err, job: key }, 'an export job could not run'))
      .finally(() => running.delete(key));
    running.set(key, p);
  };

  return {
    keepMs: limits.keepMs,
    async kickOff(job) {
      const tooMany = () => fhirError('too-many-requests', `This client already has ${limits.maxJobsPerClient} exports running (CARNET_EXPORT_MAX_JOBS); wait for one to finish or cancel it`);
      if ((await runningJobsOf(deps.store, job.claims.sub)) >= limits.maxJobsPerClient) throw tooMany();
      const key = jobKey(job.claims.sub, job.id);
      if (!(await deps.store.putState(key, job, 0))) throw fhirError('conflict', 'An export with this id exists');
      // Kick-offs racing past the count above: counted again once written, the extra ones withdraw.
      if ((await runningJobsOf(deps.store, job.claims.sub)) > limits.maxJobsPerClient) {
        await deps.store.putState(key, undefined, 1);
        throw tooMany();
      }
      start(key);
    },
    async find(subject, id) {
      const job = (await readJob(deps.store, jobKey(subject, id)))?.job;
      return job?.status === 'cancelled' ? undefined : job;
    },
    async cancel(subject, id) {
      return remove(jobKey(subject, id), (job) => job.status !== 'cancelled');
    },
    async expire() {
      const removable = (job: ExportJob) => job.status === 'cancelled' || (job.status !== 'running' && expired(job));
      let removed = 0;
      for await (const { key, job } of allJobs(deps.store)) if (removable(job) && (await remove(key, removable))) removed += 1;
      return removed;
    },
    async resume() {
      for await (const { key, job } of allJobs(deps.store)) if (job.status === 'running') start(key);
    },
    async stop() {
      stopping.abort();
      await Promise.allSettled([...running.values()]);
    },
  };
}
