import { fhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';

export interface BundleLink {
  relation: 'self' | 'next' | 'previous' | 'first';
  url: string;
}

export interface BundleEntry {
  fullUrl?: string;
  resource?: Resource;
  search?: { mode: 'match' | 'include' | 'outcome'; score?: number };
  request?: { method: string; url: string };
  response?: { status: string; location?: string; etag?: string; lastModified?: string; outcome?: Resource };
}

export function bundle(type: 'searchset' | 'history' | 'batch-response' | 'transaction-response', entry: BundleEntry[], extra: { total?: number; link?: BundleLink[]; now: Date }): Resource {
  return {
    resourceType: 'Bundle',
    id: crypto.randomUUID(),
    meta: { lastUpdated: extra.now.toISOString() },
    type,
    ...(extra.total !== undefined ? { total: extra.total } : {}),
    ...(extra.link?.length ? { link: extra.link } : {}),
    // FHIR forbids empty arrays (ele-1): a Bundle without entries has no `entry`.
    ...(entry.length ? { entry } : {}),
  };
}

/** An opaque page cursor: what the first page pinned, and where the next page starts. */
export function encodeCursor(state: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

export function decodeCursor<T>(cursor: string, check: (v: any) => v is T): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!check(value)) throw fhirError('bad-search', 'The page cursor is not valid; start again from the first page', '_page');
  return value;
}

/** A URL of this server with the given query, for Bundle links. */
export function pageUrl(base: string, path: string, query: Record<string, string | string[] | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  }
  const qs = params.toString();
  return `${base}${path}${qs ? `?${qs}` : ''}`;
}

/** The value of a single-valued query parameter (the last one wins). */
export function single(query: Record<string, string | string[]>, name: string): string | undefined {
  const v = query[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** _count: default when absent, capped at max (the cap is reported by the caller). */
export function countParam(query: Record<string, string | string[]>, dflt: number, max: number): { count: number; capped: boolean } {
  const raw = single(query, '_count');
  if (raw === undefined) return { count: dflt, capped: false };
  if (!/^\d+$/.test(raw)) throw fhirError('bad-search', `_count must be a whole number, got "${raw}"`, '_count');
  const n = Number(raw);
  return n > max ? { count: max, capped: true } : { count: n, capped: false };
}
