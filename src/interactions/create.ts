import { fhirError } from '../errors.js';
import { criteriaFromString, findMatches } from './conditional.js';
import { buildRecord, etag, httpDate } from './records.js';
import { planned, writeHandler } from './planned.js';
import { checkBody, checkWritable, newId, validateOrThrow, writeResult } from './write-checks.js';

export const create = writeHandler('create', async (req, ctx) => {
  const type = req.type!;
  const resource = checkBody(req.body, type);
  validateOrThrow(resource, ctx);
  if (req.ifNoneExist !== undefined) {
    const matches = await findMatches(ctx, type, criteriaFromString(req.ifNoneExist));
    if (matches.length > 1) throw fhirError('multiple-matches', `If-None-Exist matched several ${type} resources`);
    if (matches.length === 1) {
      const m = matches[0];
      const body = req.preferReturn === 'minimal' ? undefined : m.resource;
      return planned([], { status: 200, body, location: `${ctx.baseUrl}/${type}/${m.id}/_history/${m.versionId}`, etag: etag(m.versionId), lastModified: httpDate(m.lastUpdated) });
    }
  }
  // The server assigns the id of a create (FHIR http.html#create): a client id is ignored.
  const record = buildRecord(resource, type, req.id ?? newId(), undefined, ctx);
  checkWritable(record, ctx);
  return planned([{ record, expect: { kind: 'absent' } }], writeResult(record, 201, req, ctx));
});
