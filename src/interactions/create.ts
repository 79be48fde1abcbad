import { fhirError } from '../errors.js';
import { StoreConflict } from '../store/store.js';
import { criteriaFromString, findMatches } from './conditional.js';
import { buildRecord, etag, httpDate } from './records.js';
import type { InteractionHandler } from './types.js';
import { checkBody, checkWritable, newId, validateOrThrow, writeResult } from './write-checks.js';

export const create: InteractionHandler = {
  name: 'create',
  traits: { readOnly: false, needsType: true },
  async handle(req, ctx) {
    const type = req.type!;
    const resource = checkBody(req.body, type);
    validateOrThrow(resource, ctx);
    if (req.ifNoneExist !== undefined) {
      const matches = await findMatches(ctx, type, criteriaFromString(req.ifNoneExist));
      if (matches.length > 1) throw fhirError('multiple-matches', `If-None-Exist matched several ${type} resources`);
      if (matches.length === 1) {
        const m = matches[0];
        const body = req.preferReturn === 'minimal' ? undefined : m.resource;
        return { status: 200, body, location: `${ctx.baseUrl}/${type}/${m.id}/_history/${m.versionId}`, etag: etag(m.versionId), lastModified: httpDate(m.lastUpdated) };
      }
    }
    // The server assigns the id of a create (FHIR http.html#create): a client id is ignored.
    for (let attempt = 0; ; attempt++) {
      const record = buildRecord(resource, type, newId(), 1, ctx);
      checkWritable(record, ctx);
      try {
        await ctx.store.commit([{ record, expect: { kind: 'absent' } }]);
        return writeResult(record, 201, req, ctx);
      } catch (e) {
        if (!(e instanceof StoreConflict) || attempt >= 2) throw e;
      }
    }
  },
};
