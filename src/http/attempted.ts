import type { FastifyRequest } from 'fastify';

type Params = { type?: string; id?: string; vid?: string; op?: string };

const isOp = (s: string | undefined) => s?.startsWith('$') ?? false;

/** Route pattern (routes.ts) to the interaction it serves, from what the path alone says. */
const ROUTES: Record<string, (p: Params) => string | undefined> = {
  'GET /fhir': () => 'search-system',
  'POST /fhir/_search': () => 'search-system',
  'GET /fhir/_history': () => 'history-system',
  'GET /fhir/$export': () => 'operation',
  'POST /fhir/$export': () => 'operation',
  'GET /fhir/:type': (p) => (isOp(p.type) ? 'operation' : 'search-type'),
  'POST /fhir/:type': (p) => (isOp(p.type) ? 'operation' : 'create'),
  'PUT /fhir/:type': () => 'update',
  'PATCH /fhir/:type': () => 'patch',
  'DELETE /fhir/:type': () => 'delete',
  'POST /fhir/:type/_search': () => 'search-type',
  'GET /fhir/:type/_history': () => 'history-type',
  'GET /fhir/:type/:id': (p) => (isOp(p.id) ? 'operation' : 'read'),
  'POST /fhir/:type/:id': (p) => (isOp(p.id) ? 'operation' : undefined),
  'PUT /fhir/:type/:id': () => 'update',
  'PATCH /fhir/:type/:id': () => 'patch',
  'DELETE /fhir/:type/:id': () => 'delete',
  'GET /fhir/:type/:id/_history': () => 'history-instance',
  'GET /fhir/:type/:id/_history/:vid': () => 'vread',
  'POST /fhir/:type/:id/:op': () => 'operation',
  'GET /fhir/:type/:id/:op': (p) => (isOp(p.op) ? 'operation' : 'search-type'),
};

/**
 * What a request attempts as far as its route tells before its body is read: for the AuditEvent of
 * a request refused at the door (401). POST /fhir is a batch or a transaction by its body, which
 * such a request never had read: its interaction is not known, nor that of an unknown path.
 */
export function attempted(req: FastifyRequest): { interaction?: string; type?: string } {
  const route = req.routeOptions.url;
  const p = (req.params ?? {}) as Params;
  const interaction = route ? ROUTES[`${req.method} ${route}`]?.(p) : undefined;
  if (!interaction) return {};
  // A compartment search (Patient/123/Observation) searches the type it names last.
  const type = route === '/fhir/:type/:id/:op' && interaction === 'search-type' ? p.op : isOp(p.type) ? undefined : p.type;
  return { interaction, ...(type ? { type } : {}) };
}
