import { before, type Duration } from '../config.js';
import type { Job, JobContext } from '../jobs/scheduler.js';
import type { Store, VersionRecord } from '../store/store.js';
import { chainLinksOf, classOf, cutKey, type EventClass, type Position } from './chain.js';

export const RETENTION_JOB = 'audit-retention';
/** Where each class's pass stopped: the newest lastUpdated it went through. */
const cursorKey = (cls: EventClass) => `audit-retention:${cls}`;
/** Events read and removed at a time. */
const PAGE = 500;

export interface RetentionDeps {
  store: Store;
  policy: Record<EventClass, Duration>;
  /** node-cron expression; default every night at 03:30 (Europe/Paris). */
  cron?: string;
}

/**
 * Removes the AuditEvents past their retention for good (store.erase: no tombstone, no history),
 * reads and writes each after their own time. An event is removed with every chain it is a link
 * of cut after it: the cut, kept in the state before the event goes, is where $verify resumes the
 * chain. Each class's pass walks the events oldest first from where the previous run stopped.
 */
export function auditRetentionJob(deps: RetentionDeps): Job {
  return {
    name: RETENTION_JOB,
    cron: deps.cron ?? '30 3 * * *',
    async run(ctx) {
      const removed: Record<EventClass, number> = { reads: 0, writes: 0 };
      for (const cls of ['reads', 'writes'] as const) {
        removed[cls] = await pass(deps.store, cls, before(ctx.now(), deps.policy[cls]).toISOString(), ctx);
      }
      if (removed.reads + removed.writes > 0) ctx.log.info({ removed }, 'access history: events past their retention removed');
      return removed;
    },
  };
}

async function pass(store: Store, cls: EventClass, cutoff: string, ctx: JobContext): Promise<number> {
  const cursor = await store.getState(cursorKey(cls));
  let rev = cursor?.rev ?? 0;
  let since = cursor?.value as string | undefined;
  let removed = 0;
  while (!ctx.signal.aborted) {
    const window = { type: 'AuditEvent', since, at: cutoff };
    const { total } = await store.history({ ...window, offset: 0, limit: 0 });
    if (total === 0) break;
    // History is newest first: the last page of the window holds its oldest events.
    const page = (await store.history({ ...window, offset: Math.max(0, total - PAGE), limit: PAGE })).records;
    if (page.length === 0) break;
    const old = page.filter((v) => !v.deleted && v.resource !== undefined && classOf(v.resource) === cls);
    if (old.length > 0) {
      await cutAfter(store, old);
      removed += await store.erase(old.map(({ type, id }) => ({ type, id })));
    }
    const newest = page[0]!.lastUpdated;
    if (old.length === 0 && newest === since) break;
    if (newest !== since) {
      if (!(await store.putState(cursorKey(cls), newest, rev))) throw new Error('the retention cursor moved under this run');
      rev++;
      since = newest;
    }
  }
  return removed;
}

/** Moves the cut of every chain the events are links of to the last of them. */
async function cutAfter(store: Store, events: VersionRecord[]): Promise<void> {
  const last = new Map<string, Position>();
  for (const { resource } of events) {
    for (const link of chainLinksOf(resource!)) {
      const key = cutKey(link.patient, link.chain);
      if ((last.get(key)?.seq ?? 0) < link.seq) last.set(key, { seq: link.seq, hash: link.hash });
    }
  }
  for (const [key, cut] of last) {
    const current = await store.getState(key);
    if (((current?.value as Position | undefined)?.seq ?? 0) >= cut.seq) continue;
    if (!(await store.putState(key, cut, current?.rev ?? 0))) throw new Error(`the cut ${key} moved under this run`);
  }
}
