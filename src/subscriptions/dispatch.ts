import { Query } from 'mingo';
import type { JobLog } from '../jobs/scheduler.js';
import type { SearchRegistry } from '../search/registry.js';
import { compileNative } from '../store/lmdb/native-filter.js';
import type { CurrentRecord, Store, VersionRecord } from '../store/store.js';
import { parseCriteria } from './criteria.js';
import { ownerAccess, ownerPrincipal, versionRecord, type RecordTest } from './owner.js';
import { CURSOR, enqueue, notificationKey, type Cursor } from './queue.js';

export interface DispatchDeps {
  store: Store;
  registry: SearchRegistry;
  baseUrl: string;
  /** How far back each pass reads the history again (CARNET_SUBSCRIPTION_LAG_MS). */
  lagMs: number;
  log: JobLog;
  /** Most active Subscriptions considered (the rest wait, with a warning). */
  maxSubscriptions?: number;
}

interface Active {
  id: string;
  /** The patients whose records alone the criteria can match (`comp`), when they name them. */
  patients?: string[];
  /** Versions before this instant (the Subscription's creation) are not notified. */
  created: string;
  owner: string;
  matches: RecordTest;
}

interface ByType {
  all: Active[];
  /** Subscriptions whose criteria name no patient: tested against every version of the type. */
  any: Active[];
  byPatient: Map<string, Active[]>;
}

const PAGE = 500;
const IDLE_CURSOR_MS = 60_000;

/**
 * The patients a compiled criteria confines matches to: the compiler adds `{comp: ...}` to a search
 * naming patients by a compartment parameter (src/search/compile.ts), as a member of its top-level $and.
 */
function comparts(filter: Record<string, unknown>): string[] | undefined {
  const members = Array.isArray(filter.$and) ? (filter.$and as Record<string, unknown>[]) : [filter];
  for (const m of members) {
    const comp = m.comp as unknown;
    if (typeof comp === 'string') return [comp];
    const list = (comp as { $in?: unknown } | undefined)?.$in;
    if (Array.isArray(list) && list.every((x) => typeof x === 'string')) return list as string[];
  }
  return undefined;
}
const ACTIVE = { idx: { $elemMatch: { p: 'status', c: 'active' } } };

/**
 * Follows the store's change feed (system history) and queues the notifications of the active
 * Subscriptions. Each pass reads the versions from the cursor to now, the cursor then moves to
 * now minus the lag: a version that became visible late, with an older lastUpdated, is still read
 * by a later pass. What this process has handled is remembered in memory; what another holder of
 * the lease (or this one before a restart) queued or sent is recognised by its notification key
 * (queue.ts). Nothing runs on the write path: ingest does not pay for Subscriptions.
 */
export function createDispatcher(deps: DispatchDeps) {
  const seen = new Map<string, string>();
  const compiled = new Map<string, { version: number; test: RecordTest; type: string; patients?: string[] }>();
  const max = deps.maxSubscriptions ?? 10_000;

  const criteriaTest = (record: CurrentRecord): { type: string; test: RecordTest; patients?: string[] } | undefined => {
    const hit = compiled.get(record.id);
    if (hit?.version === record.versionId) return hit;
    try {
      const { type, filter } = parseCriteria(record.resource?.criteria, deps.registry, deps.baseUrl);
      const native = compileNative<CurrentRecord>(filter);
      const query = native ? undefined : new Query(filter);
      const test: RecordTest = native ?? ((r) => query!.test(r as unknown as Record<string, unknown>));
      const patients = comparts(filter);
      const entry = { version: record.versionId, test, type, ...(patients ? { patients } : {}) };
      compiled.set(record.id, entry);
      return entry;
    } catch (err) {
      // Checked when written; a search definition may have changed since.
      deps.log.error({ err, subscription: record.id }, 'a Subscription\'s criteria no longer compile; it notifies nothing');
      return undefined;
    }
  };

  const activeByType = async (): Promise<Map<string, ByType>> => {
    const { records } = await deps.store.search({ types: ['Subscription'], filter: ACTIVE, sort: [], offset: 0, limit: max + 1, count: false });
    if (records.length > max) deps.log.error({ max }, 'more active Subscriptions than one pass considers; the others are not notified');
    const byType = new Map<string, ByType>();
    for (const record of records.slice(0, max)) {
      if (record.resource?.status !== 'active' || !ownerPrincipal(record.writer)) continue;
      const c = criteriaTest(record);
      if (!c) continue;
      let t = byType.get(c.type);
      if (!t) byType.set(c.type, (t = { all: [], any: [], byPatient: new Map() }));
      const sub: Active = { id: record.id, created: record.created ?? record.lastUpdated, owner: record.writer!, matches: c.test, ...(c.patients ? { patients: c.patients } : {}) };
      t.all.push(sub);
      if (!c.patients) t.any.push(sub);
      for (const p of c.patients ?? []) t.byPatient.set(p, [...(t.byPatient.get(p) ?? []), sub]);
    }
    return byType;
  };

  const asRecord = (v: VersionRecord) => versionRecord(deps.store, deps.registry, deps.baseUrl, v);

  return {
    /** One pass; returns how many notifications it queued. */
    async dispatch(now: Date, signal?: AbortSignal): Promise<number> {
      const cursorEntry = await deps.store.getState(CURSOR);
      const at = now.toISOString();
      const byType = await activeByType();
      // The first pass ever starts at the oldest active Subscription: nothing it should notify is older.
      const oldest = [...byType.values()].flatMap((t) => t.all).reduce((min, sub) => (sub.created < min ? sub.created : min), at);
      const since = (cursorEntry?.value as Cursor | undefined)?.since ?? new Date(Math.min(Date.parse(oldest), now.getTime() - deps.lagMs)).toISOString();
      let queued = 0;
      if (byType.size > 0) {
        const access = new Map<string, Promise<(type: string) => RecordTest>>();
        const accessOf = (owner: string) => {
          let a = access.get(owner);
          if (!a) access.set(owner, (a = ownerAccess(deps.store, deps.registry, ownerPrincipal(owner)!, now)));
          return a;
        };
        for (let offset = 0; ; offset += PAGE) {
          if (signal?.aborted) return queued;
          const { records, total } = await deps.store.history({ since, at, offset, limit: PAGE });
          for (const v of records) {
            const vkey = `${v.type}/${v.id}/${v.versionId}`;
            if (seen.has(vkey)) continue;
            const t = v.deleted || !v.resource ? undefined : byType.get(v.type);
            const record = t ? await asRecord(v) : undefined;
            if (t && record) {
              // Only the Subscriptions that can match: those naming one of the record's patients, and those naming none.
              const candidates = new Set(t.any);
              for (const p of record.comp) for (const sub of t.byPatient.get(p) ?? []) candidates.add(sub);
              for (const sub of candidates) {
                if (v.lastUpdated < sub.created) continue;
                if (!sub.matches(record) || !(await accessOf(sub.owner))(v.type)(record)) continue;
                const key = notificationKey(v.lastUpdated, sub.id, v.type, v.id, v.versionId);
                const item = { subscription: sub.id, type: v.type, id: v.id, versionId: v.versionId, attempts: 0, nextAt: 0 };
                if (await enqueue(deps.store, key, item)) queued++;
              }
            }
            seen.set(vkey, v.lastUpdated);
          }
          if (offset + PAGE >= total) break;
        }
      }
      const next = new Date(Math.max(Date.parse(since), now.getTime() - deps.lagMs)).toISOString();
      for (const [k, lastUpdated] of seen) if (lastUpdated < next) seen.delete(k);
      // With no active Subscription the cursor moves once a minute, not every second: an idle server
      // writes little, and a Subscription turned on later starts at most a minute (and the lag) back.
      if (byType.size === 0 && cursorEntry && Date.parse(next) - Date.parse(since) < IDLE_CURSOR_MS) return 0;
      if (!(await deps.store.putState(CURSOR, { since: next } satisfies Cursor, cursorEntry?.rev ?? 0))) {
        deps.log.info({}, 'the subscription cursor moved under this pass; the next pass reads from there');
      }
      return queued;
    },
    /** Where the next pass starts: what the sent markers older than it are no longer needed for. */
    async since(): Promise<string | undefined> {
      return ((await deps.store.getState(CURSOR))?.value as Cursor | undefined)?.since;
    },
  };
}
