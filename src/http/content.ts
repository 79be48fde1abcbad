import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FhirError, fhirError } from '../errors.js';
import { holdsMoreValuesThan } from '../validation/limits.js';
import { isMediaType } from '../validation/media-type.js';
import { keepDecimalText } from './decimals.js';

export const FHIR_JSON = 'application/fhir+json';
const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json'];
/** Whether a request's body is one resource: a create, an update, a conditional update (a patch and an operation's Parameters are not). */
const isResourceBody = (req: FastifyRequest): boolean =>
  (req.method === 'POST' && req.routeOptions.url === '/fhir/:type') || (req.method === 'PUT' && (req.routeOptions.url === '/fhir/:type' || req.routeOptions.url === '/fhir/:type/:id'));

/** Deepest nesting of a parsed JSON value, walked without recursion. */
function depthOf(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** JSON bodies are parsed here: a clear 400 for malformed JSON, a depth limit. (An own "__proto__" key from JSON.parse is inert and fails validation as an unknown element.) */
export function registerParsers(app: FastifyInstance, maxDepth: number, maxElements = Infinity): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    // A resource's body past the values limit is refused unread (limits.ts); bundles and operations
    // hold several resources, each checked when it is reached.
    if (isResourceBody(req) && holdsMoreValuesThan(text, maxElements)) {
      return done(fhirError('too-large', `The body holds more than ${maxElements} values; this server takes at most that many in one resource`), undefined);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return done(fhirError('bad-json', `The body is not valid JSON: ${(e as Error).message}`), undefined);
    }
    if (depthOf(value, maxDepth) > maxDepth) {
      return done(fhirError('bad-request', `The body nests deeper than ${maxDepth} levels`), undefined);
    }
    keepDecimalText(text, value);
    done(null, value);
  });
  // Fastify finds no parser for a Content-Type that is not a media type and answers 415; on a raw
  // Binary upload it is the Binary's contentType that is wrong: 422, as in a FHIR JSON Binary.
  app.addHook('preParsing', (req, _reply, payload, done) => {
    const contentType = req.headers['content-type'];
    const binary = (req.method === 'POST' || req.method === 'PUT') && (req.params as { type?: string } | undefined)?.type === 'Binary';
    if (binary && typeof contentType === 'string' && !isMediaType(contentType)) {
      return done(new FhirError('invalid-resource', 'Content-Type is not a media type (type/subtype, RFC 9110)', { expression: 'Binary.contentType' }), payload);
    }
    done(null, payload);
  });
  // Anything else is left unread: only a Binary takes raw content, streamed into the blob store.
  app.addContentTypeParser('*', (_req, payload, done) => done(null, { raw: payload }));
  // A form is a search's parameters (POST _search). Elsewhere it is raw content like any other type:
  // `curl -d` sends JSON as a form, which must get the 415 a text/plain body gets, and a Binary keeps its bytes.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer;
    if (!/\/_search\/?$/.test(req.url.split('?')[0]!)) return done(null, { raw: Readable.from([bytes]) });
    const out: Record<string, string[]> = {};
    for (const [k, v] of new URLSearchParams(bytes.toString('utf8'))) (out[k] ??= []).push(v);
    done(null, out);
  });
}

/** The media type of a request body, without parameters. */
export function mediaType(req: FastifyRequest): string | undefined {
  const raw = req.headers['content-type'];
  return raw ? raw.split(';')[0].trim().toLowerCase() : undefined;
}

const FORMAT_JSON = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir']);

/** carnet answers JSON only: a client asking for XML (or anything else) gets 406, not a JSON body it cannot read. */
export function checkAcceptable(req: FastifyRequest): void {
  // A Binary is served in its own content type (FHIR R4 binary.html#rest): any Accept will do.
  const binaryRead = req.method === 'GET' && /^\/fhir\/Binary\/[^/?]+(\/_history\/[^/?]+)?(\?|$)/.test(req.url);
  const query = req.query as Record<string, string | string[] | undefined>;
  const format = query?._format;
  const formats = format === undefined ? [] : Array.isArray(format) ? format : [format];
  for (const f of formats) {
    if (!FORMAT_JSON.has(f.toLowerCase())) throw fhirError('not-acceptable', `_format=${f} is not supported; this server speaks JSON only (_format=json)`);
  }
  const accept = req.headers.accept;
  if (!accept || formats.length > 0 || binaryRead) return;
  const ranges = accept.split(',').map((r) => r.split(';')[0].trim().toLowerCase());
  const ok = ranges.some((r) => r === '*/*' || r === 'application/*' || r.includes('json') || r === 'text/html' || r === 'text/*' || r === 'application/octet-stream');
  if (!ok) throw fhirError('not-acceptable', `Cannot produce ${accept}; this server answers application/fhir+json`);
}
