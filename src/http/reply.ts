import type { FastifyReply, FastifyRequest } from 'fastify';
import { FhirError, toOutcome } from '../errors.js';
import type { FhirResult } from '../interactions/types.js';
import { FHIR_JSON } from './content.js';
import { stringifyWithDecimals } from './decimals.js';

function pretty(req: FastifyRequest): boolean {
  const p = (req.query as Record<string, unknown> | undefined)?._pretty;
  return p === 'true' || (Array.isArray(p) && p.includes('true'));
}

export function sendJson(req: FastifyRequest, reply: FastifyReply, status: number, body: unknown): FastifyReply {
  reply.code(status).header('content-type', `${FHIR_JSON}; charset=utf-8`);
  return reply.send(stringifyWithDecimals(body, pretty(req) ? 2 : undefined));
}

export function sendResult(req: FastifyRequest, reply: FastifyReply, result: FhirResult): FastifyReply {
  if (result.location) reply.header('location', result.location);
  if (result.etag) reply.header('etag', result.etag);
  if (result.lastModified) reply.header('last-modified', result.lastModified);
  for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
  if (result.raw) {
    // Stored content is served as it is: never sniffed or run as a page of this origin.
    return reply
      .code(result.status)
      .header('content-type', result.raw.contentType)
      .header('content-length', String(result.raw.size))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', 'sandbox')
      .send(result.raw.stream);
  }
  if (result.body === undefined) return reply.code(result.status).send();
  return sendJson(req, reply, result.status, result.body);
}

/** Fastify's own errors that a client caused, as carnet error codes. */
const FASTIFY_CODES: Record<string, ConstructorParameters<typeof FhirError>[0]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad-request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad-request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad-json',
  FST_ERR_BAD_URL: 'bad-request',
};

const MESSAGES: Record<string, string> = {
  'too-large': 'The request body is larger than this server accepts',
  'unsupported-media-type': 'Send application/fhir+json (or application/json; application/json-patch+json for PATCH)',
};

/** Every error becomes an OperationOutcome; a 5xx tells the request id only, the stack goes to the log. */
export function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  let error = err;
  const code = (err as { code?: string })?.code;
  if (!(err instanceof FhirError) && code && FASTIFY_CODES[code]) {
    const c = FASTIFY_CODES[code];
    error = new FhirError(c, MESSAGES[c] ?? (err as Error).message);
  } else if (!(err instanceof FhirError) && (err as { statusCode?: number })?.statusCode === 400) {
    error = new FhirError('bad-request', (err as Error).message);
  }
  const { status, outcome } = toOutcome(error, req.id);
  if (status >= 500) req.log.error({ err }, 'request failed');
  // The rest of a refused large body is not read: the connection cannot carry another request.
  if (status === 413) reply.header('connection', 'close');
  if (status === 401) {
    const hadToken = Boolean(req.headers.authorization);
    reply.header('www-authenticate', hadToken ? 'Bearer realm="carnet", error="invalid_token"' : 'Bearer realm="carnet"');
  }
  return sendJson(req, reply, status, outcome);
}
