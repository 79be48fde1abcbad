import { expect } from 'vitest';
import {
  StoreConflict,
  type CurrentRecord,
  type IndexEntry,
  type Store,
  type StoreQuery,
  type VersionRecord,
  type Write,
} from '../store.js';

/** Records, data sets and assertions shared by the conformance tests. */
export interface RecordOptions {
  idx?: IndexEntry[];
  comp?: string[];
  srt?: Record<string, string | number>;
  deleted?: boolean;
  data?: Record<string, unknown>;
  created?: string;
}

export const T = (n: number): string => `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z`;

export function rec(
  type: string,
  id: string,
  versionId: number,
  lastUpdated: string,
  opts: RecordOptions = {},
): CurrentRecord {
  const record: CurrentRecord = {
    type,
    id,
    versionId,
    lastUpdated,
    deleted: opts.deleted ?? false,
    idx: opts.idx ?? [],
    comp: opts.comp ?? [],
  };
  if (opts.srt) record.srt = opts.srt;
  // Every current record carries when its resource came to exist: engines must keep it (paging pins on it).
  if (!record.deleted) record.created = opts.created ?? lastUpdated;
  if (!record.deleted) {
    record.resource = {
      resourceType: type,
      id,
      meta: { versionId: String(versionId), lastUpdated },
      ...opts.data,
    };
  }
  return record;
}

export const any = (record: CurrentRecord): Write => ({ record, expect: { kind: 'any' } });
export const ids = (records: Array<{ type: string; id: string }>): string[] => records.map((r) => `${r.type}/${r.id}`);
export const versions = (records: VersionRecord[]): string[] => records.map((r) => `${r.type}/${r.id}/${r.versionId}`);

export function query(types: string[], filter: Record<string, unknown>, more: Partial<StoreQuery> = {}): StoreQuery {
  return { types, filter, sort: [], offset: 0, limit: 100, count: false, ...more };
}

export const code = (s: string, c: string): IndexEntry => ({ p: 'code', s, c });
export const status = (c: string): IndexEntry => ({ p: 'status', c });
export const date = (st: number, et: number): IndexEntry => ({ p: 'date', st, et });
export const name = (x: string): IndexEntry => ({ p: 'name', v: x.toLowerCase(), x });
export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';

/** The search data set: two patients' records across three types, one deleted. */
export function searchData(): CurrentRecord[] {
  return [
    rec('Patient', 'p1', 1, T(1), { idx: [name('Dupont Marie')], comp: ['Patient/p1'], srt: { name: 'dupont marie', birthdate: 1980 } }),
    rec('Patient', 'p2', 1, T(2), { idx: [name('Durand Paul')], comp: ['Patient/p2'], srt: { name: 'durand paul', birthdate: 1975 } }),
    rec('Patient', 'p3', 1, T(3), { idx: [name('Martin Luc')], comp: ['Patient/p3'], srt: { name: 'martin luc' } }),
    rec('Observation', 'o1', 1, T(10), {
      idx: [code(LOINC, '1111'), status('final'), date(1000, 1999)],
      comp: ['Patient/p1'],
      srt: { date: 1000, code: '1111' },
    }),
    rec('Observation', 'o2', 1, T(11), {
      idx: [code(LOINC, '2222'), status('preliminary'), date(2000, 2999)],
      comp: ['Patient/p1'],
      srt: { date: 2000, code: '2222' },
    }),
    rec('Observation', 'o3', 1, T(12), {
      idx: [code(LOINC, '1111'), status('final'), date(3000, 3999)],
      comp: ['Patient/p2'],
      srt: { date: 3000, code: '1111' },
    }),
    rec('Observation', 'o4', 1, T(13), {
      idx: [code(SNOMED, '1111'), status('final'), { p: 'code', s: LOINC, c: '9999', t: 'other' }],
      comp: ['Patient/p2'],
      srt: { code: '1111' },
    }),
    rec('Observation', 'o5', 1, T(14), {
      idx: [code(LOINC, '2222'), status('final'), date(2000, 2999)],
      comp: ['Patient/p1', 'Patient/p2'],
      srt: { date: 2000, code: '2222' },
    }),
    rec('Observation', 'o10', 1, T(15), {
      idx: [code(LOINC, '3333'), status('final'), date(500, 600)],
      comp: ['Patient/p3'],
      srt: { date: 500, code: '3333' },
    }),
    rec('Observation', 'gone', 2, T(16), {
      deleted: true,
      idx: [code(LOINC, '1111'), status('final')],
      comp: ['Patient/p1'],
      srt: { date: 1500, code: '1111' },
    }),
    rec('Condition', 'c1', 1, T(20), { idx: [code(SNOMED, '44054006')], comp: ['Patient/p1'], srt: { code: '44054006' } }),
    rec('Condition', 'c2', 1, T(21), { idx: [code(SNOMED, '38341003')], comp: ['Patient/p2'], srt: { code: '38341003' } }),
  ];
}

/** The history data set: six versions at T(1)..T(6) across three types. */
export function historyData(): CurrentRecord[] {
  return [
    rec('Patient', 'p1', 1, T(1), { data: { active: false } }),
    rec('Observation', 'o1', 1, T(2)),
    rec('Patient', 'p1', 2, T(3), { data: { active: true } }),
    rec('Observation', 'o2', 1, T(4)),
    rec('Observation', 'o1', 2, T(5), { deleted: true }),
    rec('Condition', 'c1', 1, T(6)),
  ];
}

export async function commitEach(store: Store, records: CurrentRecord[]): Promise<void> {
  for (const record of records) await store.commit([any(record)]);
}

export async function expectConflict(p: Promise<unknown>, type: string, id: string, actualVersionId: number): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreConflict);
  expect(err).toMatchObject({ type, id, actualVersionId });
}
