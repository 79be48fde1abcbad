import { binaryBytes, present } from './binary.js';
import { etag, httpDate, readVisible } from './records.js';
import type { FhirRequest, InteractionHandler } from './types.js';

/**
 * A Binary is served as its own content unless the client asks for FHIR JSON
 * (http://hl7.org/fhir/R4/binary.html#rest), which is also how IHE MHD ITI-68 retrieves a document.
 */
export function wantsRaw(req: FhirRequest): boolean {
  const format = req.query._format;
  if (format !== undefined) return false;
  const accept = (req.accept ?? '').toLowerCase();
  return !/application\/(fhir\+json|json\+fhir|json)\b/.test(accept);
}

export const read: InteractionHandler = {
  name: 'read',
  traits: { readOnly: true, needsType: true },
  async handle(req, ctx) {
    const record = await readVisible(ctx, req.type!, req.id!);
    const tag = etag(record.versionId);
    if (req.ifNoneMatch && req.ifNoneMatch.replace(/^W\//, '') === tag.replace(/^W\//, '')) {
      return { status: 304, etag: tag };
    }
    if (req.ifModifiedSince) {
      const since = Date.parse(req.ifModifiedSince);
      // HTTP dates have second precision.
      if (!Number.isNaN(since) && Math.floor(Date.parse(record.lastUpdated) / 1000) * 1000 <= since) {
        return { status: 304, etag: tag };
      }
    }
    const headers = { etag: tag, lastModified: httpDate(record.lastUpdated) };
    if (record.type === 'Binary' && wantsRaw(req)) return { status: 200, raw: await binaryBytes(record.resource!, ctx), ...headers };
    return { status: 200, body: await present(record.resource!, ctx), ...headers };
  },
};
