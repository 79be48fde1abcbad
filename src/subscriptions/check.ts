import { authorize } from '../access/permissions.js';
import { fhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import type { Context } from '../interactions/types.js';
import { endpointRefusal, parseCriteria, parseHeaders } from './criteria.js';

export const CHANNEL_TYPES = new Set(['rest-hook', 'websocket']);
export const FHIR_JSON = 'application/fhir+json';

interface Channel {
  type?: unknown;
  endpoint?: unknown;
  payload?: unknown;
  header?: unknown;
}

/**
 * What a Subscription must be to be stored (create and update): criteria a search this server can
 * run and the writer may run (its scopes allow searching the type), a channel carnet serves, and
 * for a rest-hook an endpoint on an allowed host. A `requested` (or `active`) Subscription is
 * accepted as `active`; `off` stays off. Refusals are 4xx OperationOutcomes, nothing written.
 */
export function checkSubscription(resource: Resource, ctx: Context): Resource {
  const { type } = parseCriteria(resource.criteria, ctx.registry, ctx.baseUrl);
  authorize(ctx.principal, type, 'search-type');
  const channel = (resource.channel ?? {}) as Channel;
  if (typeof channel.type !== 'string' || !CHANNEL_TYPES.has(channel.type)) {
    throw fhirError('invalid-resource', `Subscription.channel.type: this server notifies by ${[...CHANNEL_TYPES].join(' or ')}`, 'Subscription.channel.type');
  }
  if (channel.payload !== undefined && channel.payload !== FHIR_JSON) {
    throw fhirError('invalid-resource', `Subscription.channel.payload: only ${FHIR_JSON} (or no payload) is supported`, 'Subscription.channel.payload');
  }
  parseHeaders(channel.header);
  if (channel.type === 'rest-hook') {
    const refused = endpointRefusal(channel.endpoint, ctx.subscriptions?.allowedHosts ?? []);
    if (refused) throw fhirError('invalid-resource', `Subscription.channel.endpoint: ${refused}`, 'Subscription.channel.endpoint');
  }
  if (resource.status === 'requested' || resource.status === 'active') {
    const { error: _previous, ...rest } = resource;
    return { ...rest, status: 'active' };
  }
  return resource;
}
