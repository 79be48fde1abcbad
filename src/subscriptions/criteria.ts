import { FhirError, fhirError } from '../errors.js';
import { isServedType } from '../fhir/resource-types.js';
import { compileSearch, type Filter } from '../search/compile.js';
import { parseSearch } from '../search/parse.js';
import type { SearchRegistry } from '../search/registry.js';

/** What a Subscription's criteria ask for, parsed: its type and the filter of its search. */
export interface Criteria {
  type: string;
  filter: Filter;
}

// Result parameters shape a page, not which resources match: in criteria they mean nothing.
const RESULT_PARAMS = new Set(['_sort', '_count', '_total', '_summary', '_elements', '_include', '_revinclude', '_contained', '_containedType']);

const bad = (message: string) => new FhirError('invalid-resource', message, { expression: 'Subscription.criteria' });

/**
 * Parses `Type?param=value&...` (R4 Subscription.criteria: a search on a served type) into a
 * filter over store records, without access clauses. Unknown types and parameters are refused;
 * chained and _has parameters too, since a notification is decided from one resource alone.
 */
export function parseCriteria(criteria: unknown, registry: SearchRegistry, baseUrl: string): Criteria {
  if (typeof criteria !== 'string' || criteria.trim() === '') throw bad('Subscription.criteria must be a search such as DocumentReference?patient=Patient/123');
  const q = criteria.indexOf('?');
  const type = (q < 0 ? criteria : criteria.slice(0, q)).trim();
  if (!isServedType(type)) throw bad(`Subscription.criteria: "${type}" is not a resource type this server serves`);
  const query: Record<string, string[]> = {};
  for (const [name, value] of new URLSearchParams(q < 0 ? '' : criteria.slice(q + 1))) {
    if (RESULT_PARAMS.has(name)) throw bad(`Subscription.criteria: ${name} has no meaning in criteria`);
    (query[name] ??= []).push(value);
  }
  let filter: Filter;
  try {
    const parsed = parseSearch(type, query, registry, { strict: true, baseUrl });
    if (parsed.params.some((p) => p.kind === 'chain' || p.kind === 'has')) throw bad('Subscription.criteria: chained and _has parameters are not supported');
    filter = compileSearch(parsed).filter;
  } catch (e) {
    if (e instanceof FhirError && e.code === 'bad-search') throw bad(`Subscription.criteria: ${e.message}`);
    throw e;
  }
  return { type, filter };
}

/** The `Name: value` lines of channel.header, or a 4xx naming the one that is not. */
export function parseHeaders(headers: unknown): Array<[string, string]> {
  if (headers === undefined) return [];
  if (!Array.isArray(headers)) throw fhirError('invalid-resource', 'Subscription.channel.header must be a list of "Name: value" strings', 'Subscription.channel.header');
  return headers.map((h, i) => {
    const m = typeof h === 'string' ? /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)$/.exec(h) : null;
    if (!m) throw fhirError('invalid-resource', `Subscription.channel.header[${i}] is not a "Name: value" header`, `Subscription.channel.header[${i}]`);
    // Hop-by-hop and framing headers are the sender's to set.
    if (/^(host|content-length|transfer-encoding|connection|upgrade|te|trailer|keep-alive)$/i.test(m[1])) {
      throw fhirError('invalid-resource', `Subscription.channel.header[${i}]: ${m[1]} is set by the server`, `Subscription.channel.header[${i}]`);
    }
    return [m[1], m[2].trim()];
  });
}

/** Whether the endpoint is http(s) on an allowed host (CARNET_SUBSCRIPTION_ALLOWED_HOSTS); why not otherwise. */
export function endpointRefusal(endpoint: unknown, allowedHosts: readonly string[]): string | undefined {
  if (typeof endpoint !== 'string') return 'a rest-hook needs channel.endpoint, an http or https URL';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `channel.endpoint is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `channel.endpoint must be http or https, not ${url.protocol.replace(/:$/, '')}`;
  if (url.username || url.password) return 'channel.endpoint must not carry credentials (use channel.header)';
  if (allowedHosts.length === 0) return 'rest-hook Subscriptions are not enabled on this server (CARNET_SUBSCRIPTION_ALLOWED_HOSTS is empty)';
  if (!allowedHosts.includes(url.host) && !allowedHosts.includes(url.hostname)) return `channel.endpoint's host ${url.host} is not among the hosts this server notifies (CARNET_SUBSCRIPTION_ALLOWED_HOSTS)`;
  return undefined;
}
