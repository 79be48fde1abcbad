import { Query } from 'mingo';
import { fhirError, type FhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import type { CurrentRecord, VersionRecord } from '../store/store.js';
import { compartmentsOf, indexResource } from '../search/extract.js';
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

/**
 * The stored record of a new version: FHIR JSON with its meta set, plus search data. `derived`: the
 * store derives the type's search data on read (Store.derivesSearchData), so only the compartments
 * are computed, not the index entries and sort values it would drop.
 */
export function buildRecord(
  resource: Resource,
  type: string,
  id: string,
  current: CurrentRecord | undefined,
  ctx: Pick<Context, 'now' | 'registry' | 'baseUrl'> & Partial<Pick<Context, 'principal'>>,
  derived = false,
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
  const record: CurrentRecord = derived
    ? { type, id, versionId, lastUpdated, created, deleted: false, resource: stored, idx: [], comp: compartmentsOf(stored, ctx.registry, { baseUrl: ctx.baseUrl }) }
    : { type, id, versionId, lastUpdated, created, deleted: false, resource: stored, ...indexResource(stored, ctx.registry, { baseUrl: ctx.baseUrl }) };
  return ctx.principal ? withWriter(record, current && !current.deleted ? current.by : undefined, writerOf(ctx.principal)) : record;
}

/** Who writes, as recorded with each version: the token's fhirUser, or the system client's subject. */
export function writerOf(principal: Context['principal']): string {
  return principal.fhirUser?.reference ?? `client:${principal.subject}`;
}

function withWriter(record: CurrentRecord, before: string[] | undefined, writer: string): CurrentRecord {
  return { ...record, writer, by: before?.includes(writer) ? before : [...(before ?? []), writer] };
}

export function buildTombstone(current: CurrentRecord, now: Date, principal?: Context['principal']): CurrentRecord {
  const tombstone: CurrentRecord = { type: current.type, id: current.id, versionId: current.versionId + 1, lastUpdated: now.toISOString(), deleted: true, idx: [], comp: current.comp };
  if (current.by) tombstone.by = current.by;
  return principal ? withWriter(tombstone, current.by, writerOf(principal)) : tombstone;
}

/** Whether the access clauses of this request admit a record (no store read). */
export function isVisible(record: CurrentRecord, ctx: Context): boolean {
  const clauses = ctx.accessClauses(record.type);
  if (clauses.length === 0) return true;
  return new Query({ $and: clauses }).test(record as unknown as Record<string, unknown>);
}

/**
 * Whether the caller may see a current record: its access clauses, or for a Binary, the access of
 * what it belongs to (its securityContext: a DocumentReference, a Patient...), so that Binary/{id}
 * is never a way around a mask, a block or an embargo.
 */
export async function canSee(record: CurrentRecord, ctx: Context): Promise<boolean> {
  if (isVisible(record, ctx)) return true;
  if (record.type !== 'Binary' || !record.resource) return false;
  const context = (record.resource.securityContext as { reference?: unknown } | undefined)?.reference;
  const m = typeof context === 'string' ? /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(context) : null;
  if (!m || m[1] === 'Binary') return false;
  const target = await ctx.store.read(m[1], m[2]);
  return target !== undefined && !target.deleted && isVisible(target, ctx);
}

/** The answer for what does not exist, and for what the caller may not see: the same, byte for byte. */
export function unknown(type: string, id: string, versionId?: string): FhirError {
  return fhirError('not-found', versionId === undefined ? `${type}/${id} is not known` : `${type}/${id}/_history/${versionId} is not known`);
}

/** The current record the caller may see, or 404 (what the caller may not see does not exist). */
export async function readVisible(ctx: Context, type: string, id: string): Promise<CurrentRecord> {
  const record = await ctx.store.read(type, id);
  if (!record || !(await canSee(record, ctx))) throw unknown(type, id);
  if (record.deleted) throw fhirError('gone', `${type}/${id} was deleted`);
  return record;
}

/**
 * Whether the caller may see one version of a resource whose current record they may see: the
 * version is judged on its own content (its search data recomputed), with the resource's writers;
 * a deletion carries no content and goes with the current record.
 */
export function versionVisible(version: VersionRecord, current: CurrentRecord, ctx: Context): boolean {
  if (!version.resource || version.versionId === current.versionId || version.type === 'Binary') return true;
  const { idx, comp } = indexResource(version.resource, ctx.registry, { baseUrl: ctx.baseUrl });
  const record: CurrentRecord = { ...version, idx, comp, ...(current.by ? { by: current.by } : {}) };
  return isVisible(record, ctx);
}

export function versionResource(v: VersionRecord): Resource {
  if (!v.resource) throw fhirError('gone', `${v.type}/${v.id} version ${v.versionId} is a deletion`);
  return v.resource;
}
