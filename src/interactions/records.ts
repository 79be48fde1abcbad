import { Query } from 'mingo';
import { fhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import type { CurrentRecord, VersionRecord } from '../store/store.js';
import { indexResource } from '../search/extract.js';
import type { Context } from './types.js';

/** Weak ETag of a version, as FHIR uses it: W/"3". */
export function etag(versionId: number): string {
  return `W/"${versionId}"`;
}

/** The version number of an If-Match header (`W/"3"`, `"3"` or `3`), or a 400. */
export function parseIfMatch(header: string): number {
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!m) throw fhirError('bad-request', `If-Match must be a version ETag like W/"3", got "${header}"`);
  return Number(m[1]);
}

export function httpDate(instant: string): string {
  return new Date(instant).toUTCString();
}

/** The stored record of a new version: FHIR JSON with its meta set, plus search data. */
export function buildRecord(
  resource: Resource,
  type: string,
  id: string,
  current: CurrentRecord | undefined,
  ctx: Pick<Context, 'now' | 'registry' | 'baseUrl'>,
): CurrentRecord {
  const lastUpdated = ctx.now().toISOString();
  const versionId = (current?.versionId ?? 0) + 1;
  const created = current && !current.deleted ? (current.created ?? current.lastUpdated) : lastUpdated;
  const stored: Resource = {
    ...resource,
    resourceType: type,
    id,
    meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated },
  };
  const { idx, comp, srt } = indexResource(stored, ctx.registry, { baseUrl: ctx.baseUrl });
  return { type, id, versionId, lastUpdated, created, deleted: false, resource: stored, idx, comp, srt };
}

export function buildTombstone(current: CurrentRecord, now: Date): CurrentRecord {
  return { type: current.type, id: current.id, versionId: current.versionId + 1, lastUpdated: now.toISOString(), deleted: true, idx: [], comp: current.comp };
}

/** Whether the access decision of this request lets the caller see a current record. */
export function isVisible(record: CurrentRecord, ctx: Context): boolean {
  const clauses = ctx.accessClauses(record.type);
  if (clauses.length === 0) return true;
  return new Query({ $and: clauses }).test(record as unknown as Record<string, unknown>);
}

/** The current record the caller may see, or 404 (what the caller may not see does not exist). */
export async function readVisible(ctx: Context, type: string, id: string): Promise<CurrentRecord> {
  const record = await ctx.store.read(type, id);
  if (!record || !isVisible(record, ctx)) throw fhirError('not-found', `${type}/${id} is not known`);
  if (record.deleted) throw fhirError('gone', `${type}/${id} was deleted`);
  return record;
}

export function versionResource(v: VersionRecord): Resource {
  if (!v.resource) throw fhirError('gone', `${v.type}/${v.id} version ${v.versionId} is a deletion`);
  return v.resource;
}
