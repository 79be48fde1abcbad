import { FhirError, fhirError, informational } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import { ID_PATTERN } from '../fhir/resource-types.js';
import type { CurrentRecord } from '../store/store.js';
import { checkSizeLimits } from '../validation/limits.js';
import { LARGE_RESOURCE_VALUES, nextTurn } from '../pace.js';
import { securityContextReference, withoutBlobMarker } from './binary.js';
import { etag, httpDate, isVisible } from './records.js';
import { checkWriteRules } from '../access/write-rules.js';
import type { Context, FhirRequest, FhirResult } from './types.js';

/** The body must be a resource of the URL's type (and, for an update, of the URL's id). */
export function checkBody(body: unknown, type: string, id?: string): Resource {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw fhirError('bad-request', 'The body must be a FHIR resource (a JSON object)');
  }
  const resource = body as Resource;
  if (resource.resourceType !== type) {
    throw fhirError('bad-request', `The body's resourceType "${String(resource.resourceType)}" does not match the URL's type "${type}"`, `${type}.resourceType`);
  }
  if (id !== undefined) {
    if (resource.id === undefined) throw fhirError('bad-request', `An update must carry the id "${id}" in the body`, `${type}.id`);
    if (resource.id !== id) throw fhirError('bad-request', `The body's id "${String(resource.id)}" does not match the URL's id "${id}"`, `${type}.id`);
  }
  if (resource.id !== undefined && (typeof resource.id !== 'string' || !ID_PATTERN.test(resource.id))) {
    throw fhirError('bad-request', 'id must be 1 to 64 letters, digits, "-" or "."', `${type}.id`);
  }
  return resource;
}

/**
 * The Binary a raw (non-FHIR) body stands for: its content type from Content-Type, its
 * securityContext from X-Security-Context (FHIR R4 binary.html#rest).
 */
export function rawBinary(req: FhirRequest, baseUrl: string): Resource {
  if (req.type !== 'Binary') {
    throw fhirError('unsupported-media-type', `Send ${req.type} as application/fhir+json; only Binary takes raw content`);
  }
  return {
    resourceType: 'Binary',
    contentType: req.contentType ?? 'application/octet-stream',
    ...(req.securityContext ? { securityContext: { reference: securityContextReference(req.securityContext, baseUrl) } } : {}),
  };
}

/**
 * Validates against the R4 schema, invariants and declared profiles: 422 with one issue per
 * problem. First the size limits (413), which cost one walk of the resource. A large resource is
 * validated in a turn of the event loop of its own (pace.ts).
 */
export async function validateOrThrow(resource: Resource, ctx: Pick<Context, 'validator' | 'limits'>): Promise<void> {
  const values = checkSizeLimits(resource, ctx.limits, resource.resourceType);
  if (values > LARGE_RESOURCE_VALUES) await nextTurn();
  checkSchema(resource, ctx);
  if (values > LARGE_RESOURCE_VALUES) await nextTurn();
}

/** validateOrThrow at once, for the small resources a job writes (a reminder) in a loop of its own. */
export function validateNow(resource: Resource, ctx: Pick<Context, 'validator' | 'limits'>): void {
  checkSizeLimits(resource, ctx.limits, resource.resourceType);
  checkSchema(resource, ctx);
}

function checkSchema(resource: Resource, ctx: Pick<Context, 'validator'>): void {
  const { issues } = ctx.validator.validate(resource);
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length > 0) {
    throw new FhirError('invalid-resource', errors[0].diagnostics, { issues });
  }
}

/** After a large record's indexing, the next step (its encoding in the commit) in a turn of its own. */
export async function afterIndexing(record: CurrentRecord): Promise<CurrentRecord> {
  if (record.idx.length > LARGE_RESOURCE_VALUES) await nextTurn();
  return record;
}

/**
 * A caller may only write what it could then see (e.g. a patient-context token: its own
 * compartment), and what the access rules let it write (src/access/write-rules.ts).
 */
export function checkWritable(record: CurrentRecord, ctx: Context, before?: CurrentRecord): void {
  if (!isVisible(record, ctx)) {
    throw fhirError('forbidden', `This token may not write ${record.type} resources outside its patient compartment`);
  }
  checkWriteRules(before, record, ctx.facts, ctx.baseUrl);
}

/** The reply to a write, shaped by Prefer: return=. */
export function writeResult(record: CurrentRecord, status: number, req: FhirRequest, ctx: Context): FhirResult {
  const location = `${ctx.baseUrl}/${record.type}/${record.id}/_history/${record.versionId}`;
  const base = { status, location, etag: etag(record.versionId), lastModified: httpDate(record.lastUpdated) };
  switch (req.preferReturn) {
    case 'minimal':
      return base;
    case 'OperationOutcome':
      return { ...base, body: informational(`${record.type}/${record.id} version ${record.versionId} stored`) };
    default:
      return { ...base, body: record.resource && withoutBlobMarker(record.resource) };
  }
}

export function newId(): string {
  return crypto.randomUUID();
}
