import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fhirError } from '../errors.js';
import { ID_PATTERN } from '../fhir/resource-types.js';
import type { Interaction } from '../access/permissions.js';
import type { FhirRequest } from '../interactions/types.js';
import type { Executor } from '../interactions/executor.js';
import { mediaType } from './content.js';
import { principalOf } from './auth-hook.js';
import { sendResult } from './reply.js';

type Params = { type?: string; id?: string; vid?: string; op?: string };

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function prefer(req: FastifyRequest): Pick<FhirRequest, 'preferReturn' | 'preferHandling' | 'preferAsync'> {
  const out: Pick<FhirRequest, 'preferReturn' | 'preferHandling' | 'preferAsync'> = {};
  for (const part of (header(req, 'prefer') ?? '').split(/[;,]/)) {
    const [k, v] = part.trim().split('=').map((s) => s?.trim().replace(/^"|"$/g, ''));
    if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'OperationOutcome')) out.preferReturn = v;
    if (k === 'handling' && (v === 'strict' || v === 'lenient')) out.preferHandling = v;
    if (k === 'respond-async' && v === undefined) out.preferAsync = true;
  }
  return out;
}

export function toFhirRequest(req: FastifyRequest, interaction: Interaction, extra: Partial<FhirRequest> = {}): FhirRequest {
  const p = req.params as Params;
  const raw = (req.body as { raw?: NodeJS.ReadableStream } | undefined)?.raw;
  const contentType = mediaType(req);
  if (raw && (p.type !== 'Binary' || contentType?.startsWith('application/fhir+'))) {
    throw fhirError('unsupported-media-type', 'Send application/fhir+json (or application/json; application/json-patch+json for PATCH); only Binary takes raw content');
  }
  return {
    interaction,
    type: p.type,
    id: p.id,
    versionId: p.vid,
    query: (req.query ?? {}) as Record<string, string | string[]>,
    body: raw ? undefined : req.body,
    ...(raw ? { raw } : {}),
    accept: header(req, 'accept'),
    securityContext: header(req, 'x-security-context'),
    contentType: raw ? header(req, 'content-type') : contentType,
    ifMatch: header(req, 'if-match'),
    ifNoneExist: header(req, 'if-none-exist'),
    ifNoneMatch: header(req, 'if-none-match'),
    ifModifiedSince: header(req, 'if-modified-since'),
    ...prefer(req),
    ...extra,
  };
}

/** POST _search: the form body's parameters join the query's (FHIR R4 search.html#Introduction). */
function searchForm(req: FastifyRequest): Partial<FhirRequest> {
  if (req.body !== undefined && mediaType(req) !== 'application/x-www-form-urlencoded') {
    throw fhirError('unsupported-media-type', 'POST _search takes a form body (application/x-www-form-urlencoded)');
  }
  const query: Record<string, string | string[]> = { ...(req.query as Record<string, string | string[]>) };
  for (const [k, v] of Object.entries((req.body as Record<string, string[]>) ?? {})) {
    const prev = query[k];
    query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), ...v];
  }
  return { query, body: undefined };
}

/** A malformed id cannot name anything: 400, not the 404 of an id that is merely unknown. */
function checkIds(req: FhirRequest): void {
  for (const [what, value] of [['id', req.id], ['version id', req.versionId], ['id', req.compartment?.id]] as const) {
    if (value !== undefined && !ID_PATTERN.test(value)) {
      throw fhirError('bad-request', `"${value}" is not a valid ${what}: 1 to 64 characters among A-Z a-z 0-9 - .`);
    }
  }
}

export function registerFhirRoutes(app: FastifyInstance, executor: Executor): void {
  const run = (interaction: Interaction, extra?: (req: FastifyRequest) => Partial<FhirRequest>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const fhirReq = toFhirRequest(req, interaction, extra?.(req));
      checkIds(fhirReq);
      const result = await executor.execute(fhirReq, principalOf(req), req.id, req.log);
      return sendResult(req, reply, result);
    };
  const instanceOp = (req: FastifyRequest) => {
    const id = (req.params as Params).id!;
    if (!id.startsWith('$')) return {};
    return { interaction: 'operation' as const, operation: id.slice(1), id: undefined };
  };
  const instanceLevelOp = (req: FastifyRequest) => {
    const { op } = req.params as Params;
    if (!op?.startsWith('$')) throw fhirError('not-found', `Unknown path ${req.url.split('?')[0]}`);
    return { interaction: 'operation' as const, operation: op.slice(1) };
  };
  // GET [type]/[id]/[op or compartment type]: an operation, or a compartment search (Patient/123/Observation).
  const instanceGet = (req: FastifyRequest): Partial<FhirRequest> => {
    const { type, id, op } = req.params as Params;
    if (op && /^[A-Z][A-Za-z]+$/.test(op)) return { interaction: 'search-type', type: op, id: undefined, compartment: { type: type!, id: id! } };
    return instanceLevelOp(req);
  };

  // GET or POST [base]/$name: a system-level operation ($export, $prevention-run).
  const systemOp = (req: FastifyRequest): Partial<FhirRequest> => {
    const { type } = req.params as Params;
    return type?.startsWith('$') ? { interaction: 'operation', operation: type.slice(1), type: undefined } : {};
  };

  app.get('/fhir/_history', run('history-system'));
  app.post('/fhir', async (req, reply) => {
    const kind = (req.body as { type?: unknown } | undefined)?.type;
    const interaction: Interaction = kind === 'batch' ? 'batch' : 'transaction';
    const result = await executor.execute(toFhirRequest(req, interaction), principalOf(req), req.id, req.log);
    return sendResult(req, reply, result);
  });
  app.get('/fhir/:type', run('search-type', systemOp));
  app.post('/fhir/:type', run('create', systemOp));
  app.put('/fhir/:type', run('update'));
  app.patch('/fhir/:type', run('patch'));
  app.delete('/fhir/:type', run('delete'));
  app.post('/fhir/:type/_search', run('search-type', searchForm));
  app.get('/fhir/:type/_history', run('history-type'));
  app.get('/fhir/:type/:id', run('read', instanceOp));
  // POST on an id is only an operation at type level (e.g. $validate).
  app.post('/fhir/:type/:id', run('operation', (req) => {
    const r = instanceOp(req);
    if (!('operation' in r)) throw fhirError('method-not-allowed', 'POST on a resource id is not allowed; use PUT to update');
    return r;
  }));
  app.put('/fhir/:type/:id', run('update'));
  app.patch('/fhir/:type/:id', run('patch'));
  app.delete('/fhir/:type/:id', run('delete'));
  app.get('/fhir/:type/:id/_history', run('history-instance'));
  app.get('/fhir/:type/:id/_history/:vid', run('vread'));
  app.post('/fhir/:type/:id/:op', run('operation', instanceLevelOp));
  app.get('/fhir/:type/:id/:op', run('operation', instanceGet));
  app.get('/fhir', run('search-system'));
  app.post('/fhir/_search', run('search-system', searchForm));
}
