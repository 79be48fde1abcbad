import { fhirError } from '../errors.js';
import { checkPatientDocument } from '../mhd/patient-documents.js';
import type { Write } from '../store/store.js';
import { conditionalSearch, criteriaFromString } from './conditional.js';
import { binaryLinks } from './attachments.js';
import { buildRecord, etag, httpDate } from './records.js';
import { planned, writeHandler } from './planned.js';
import { prepareForStorage, withInheritedCompartments } from './prepare.js';
import { afterIndexing, checkBody, checkWritable, newId, rawBinary, validateOrThrow, writeResult } from './write-checks.js';

export const create = writeHandler('create', async (req, ctx) => {
  const type = req.type!;
  const resource = req.raw ? rawBinary(req, ctx.baseUrl) : checkBody(req.body, type);
  checkPatientDocument(resource, ctx.principal, ctx.baseUrl);
  await validateOrThrow(resource, ctx);
  let unlessFound: Write['unlessFound'];
  if (req.ifNoneExist !== undefined) {
    const { matches, query } = await conditionalSearch(ctx, type, criteriaFromString(req.ifNoneExist));
    unlessFound = query;
    if (matches.length > 1) throw fhirError('multiple-matches', `If-None-Exist matched several ${type} resources`);
    if (matches.length === 1) {
      const m = matches[0];
      const body = req.preferReturn === 'minimal' ? undefined : m.resource;
      return planned([], { status: 200, body, location: `${ctx.baseUrl}/${type}/${m.id}/_history/${m.versionId}`, etag: etag(m.versionId), lastModified: httpDate(m.lastUpdated) });
    }
  }
  // The server assigns the id of a create (FHIR http.html#create): a client id is ignored.
  const id = req.id ?? newId();
  const stored = await prepareForStorage(resource, id, req, ctx);
  const record = await withInheritedCompartments(await afterIndexing(buildRecord(stored, type, id, undefined, ctx)), ctx);
  checkWritable(record, ctx);
  const links = (await binaryLinks(record, ctx)).map((b): Write => ({ record: b, expect: { kind: 'version', versionId: b.versionId - 1 } }));
  // Committed only if the criteria still find nothing: a concurrent twin conflicts and is re-planned into a 200.
  return planned([{ record, expect: { kind: 'absent' }, ...(unlessFound ? { unlessFound } : {}) }, ...links], writeResult(record, 201, req, ctx));
});
