import { fhirError } from '../errors.js';
import type { Interaction } from '../access/permissions.js';
import type { FhirRequest } from './types.js';

export interface BundleRequest {
  method?: string;
  url?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifMatch?: string;
  ifNoneExist?: string;
}

function queryOf(qs: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(qs)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/**
 * The FHIR request a Bundle entry stands for (entry.request.method + url), as the REST routes
 * would build it. `where` names the entry in error messages.
 */
export function entryRequest(request: BundleRequest | undefined, baseUrl: string, where: string): FhirRequest {
  const method = request?.method?.toUpperCase();
  let url = request?.url;
  if (!method || !url) throw fhirError('bad-request', `${where}: request.method and request.url are required`, `${where}.request`);
  if (url.startsWith(baseUrl + '/')) url = url.slice(baseUrl.length + 1);
  if (/^[a-z]+:/i.test(url)) throw fhirError('bad-request', `${where}: request.url must be relative to this server: ${url}`, `${where}.request.url`);
  url = url.replace(/^\//, '');
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const query = q >= 0 ? queryOf(url.slice(q + 1)) : {};
  const parts = path.split('/').filter(Boolean);
  const [type, second, third, fourth] = parts;
  const base = { query, ifMatch: request?.ifMatch, ifNoneExist: request?.ifNoneExist, ifNoneMatch: request?.ifNoneMatch, ifModifiedSince: request?.ifModifiedSince };
  const make = (interaction: Interaction, extra: Partial<FhirRequest> = {}): FhirRequest => ({ ...base, interaction, type, ...extra });
  const bad = () => fhirError('bad-request', `${where}: ${method} ${url} is not an interaction this server supports in a Bundle`, `${where}.request.url`);
  if (!type || !/^[A-Z][A-Za-z]+$/.test(type)) throw bad();

  switch (method) {
    case 'GET':
    case 'HEAD':
      if (parts.length === 1) return make('search-type');
      if (second === '_history' && parts.length === 2) return make('history-type');
      if (second.startsWith('$')) return make('operation', { operation: second.slice(1) });
      if (parts.length === 2) return make('read', { id: second });
      if (third === '_history' && parts.length === 3) return make('history-instance', { id: second });
      if (third === '_history' && parts.length === 4) return make('vread', { id: second, versionId: fourth });
      throw bad();
    case 'POST':
      if (parts.length === 1) return make('create');
      if (second === '_search' && parts.length === 2) return make('search-type');
      if (second.startsWith('$') && parts.length === 2) return make('operation', { operation: second.slice(1) });
      if (third?.startsWith('$') && parts.length === 3) return make('operation', { id: second, operation: third.slice(1) });
      throw bad();
    case 'PUT':
      if (parts.length === 1 && q >= 0) return make('update');
      if (parts.length === 2) return make('update', { id: second });
      throw bad();
    case 'PATCH':
      if (parts.length === 1 && q >= 0) return make('patch');
      if (parts.length === 2) return make('patch', { id: second });
      throw bad();
    case 'DELETE':
      if (parts.length === 1 && q >= 0) return make('delete');
      if (parts.length === 2) return make('delete', { id: second });
      throw bad();
    default:
      throw bad();
  }
}
