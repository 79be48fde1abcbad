import { STATUS_CODES } from 'node:http';
import { FhirError, fhirError, toOutcome } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import type { BundleEntry } from './bundle.js';
import { entryRequest, type BundleRequest } from './entry-request.js';
import type { FhirRequest, FhirResult } from './types.js';

export interface InputEntry {
  fullUrl?: string;
  resource?: Resource;
  request?: BundleRequest;
}

export interface ParsedEntry {
  index: number;
  where: string;
  fullUrl?: string;
  req: FhirRequest;
}

/** The entries of a batch or transaction Bundle, each as the FHIR request it stands for. */
export function parseEntries(entries: InputEntry[], baseUrl: string, outer: FhirRequest): ParsedEntry[] {
  return entries.map((entry, index) => parseEntry(entry, index, baseUrl, outer));
}

export function parseEntry(entry: InputEntry, index: number, baseUrl: string, outer: FhirRequest): ParsedEntry {
  {
    const where = `Bundle.entry[${index}]`;
    if (entry === null || typeof entry !== 'object') throw fhirError('bad-request', `${where} is not an object`, where);
    const req = entryRequest(entry.request, baseUrl, where);
    req.preferReturn = outer.preferReturn;
    req.preferHandling = outer.preferHandling;
    if (req.interaction === 'patch') Object.assign(req, patchBody(entry.resource, where));
    else if (entry.resource !== undefined) {
      req.body = entry.resource;
      req.contentType = 'application/fhir+json';
    }
    return { index, where, fullUrl: entry.fullUrl, req };
  }
}

/**
 * A PATCH entry carries a FHIRPath Patch (a Parameters resource, as PDSm's replacement bundles do),
 * or its JSON Patch in a Binary (FHIR R4 http.html#patch, in a Bundle).
 */
function patchBody(resource: Resource | undefined, where: string): Partial<FhirRequest> {
  if (resource?.resourceType === 'Parameters') return { body: resource, contentType: 'application/fhir+json' };
  if (resource?.resourceType === 'Binary' && resource.contentType === 'application/json-patch+json' && typeof resource.data === 'string') {
    try {
      return { body: JSON.parse(Buffer.from(resource.data, 'base64').toString('utf8')), contentType: 'application/json-patch+json' };
    } catch {
      throw fhirError('bad-request', `${where}.resource: the Binary does not hold a JSON Patch`, `${where}.resource.data`);
    }
  }
  throw fhirError('bad-request', `${where}: a PATCH entry needs a Parameters resource (FHIRPath Patch) or a Binary with contentType application/json-patch+json`, `${where}.resource`);
}

export function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

/** The response entry of one processed request. */
export function responseEntry(result: FhirResult, baseUrl: string): BundleEntry {
  const body = result.body as Resource | undefined;
  const isOutcome = body?.resourceType === 'OperationOutcome';
  const fullUrl = body && !isOutcome && body.id && body.resourceType !== 'Bundle' ? `${baseUrl}/${body.resourceType}/${body.id}` : undefined;
  return {
    ...(fullUrl ? { fullUrl } : {}),
    ...(body && !isOutcome ? { resource: body } : {}),
    response: {
      status: statusLine(result.status),
      ...(result.location ? { location: result.location } : {}),
      ...(result.etag ? { etag: result.etag } : {}),
      ...(result.lastModified ? { lastModified: new Date(result.lastModified).toISOString() } : {}),
      ...(isOutcome ? { outcome: body } : {}),
    },
  };
}

/** The response entry of a failed batch entry. */
export function errorEntry(err: unknown, requestId: string): BundleEntry {
  const { status, outcome } = toOutcome(err, requestId);
  return { response: { status: statusLine(status), outcome: outcome as unknown as Resource } };
}

/**
 * Names the entry in an error raised while processing it: in the message, and in expressions
 * (`DocumentReference.status` becomes `Bundle.entry[3].resource.status`).
 */
export function inEntry(err: unknown, where: string): unknown {
  if (!(err instanceof FhirError)) return err;
  const issues = err.issues.map((i) => {
    if (i.diagnostics.startsWith('Bundle.entry')) return i;
    const expression = i.expression?.map((e) => (/^[A-Z][A-Za-z]+(\.|\[|$)/.test(e) ? e.replace(/^[A-Z][A-Za-z]+/, `${where}.resource`) : e));
    return { ...i, diagnostics: `${where}: ${i.diagnostics}`, ...(expression ? { expression } : {}) };
  });
  return new FhirError(err.code, issues[0]?.diagnostics ?? err.message, { issues });
}
