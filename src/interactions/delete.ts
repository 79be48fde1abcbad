import { fhirError, informational } from '../errors.js';
import { StoreConflict } from '../store/store.js';
import { findMatches } from './conditional.js';
import { buildTombstone, isVisible, parseIfMatch } from './records.js';
import type { Context, FhirRequest, FhirResult, InteractionHandler } from './types.js';

async function deleteOne(type: string, id: string, req: FhirRequest, ctx: Context): Promise<FhirResult> {
  const expected = req.ifMatch !== undefined ? parseIfMatch(req.ifMatch) : undefined;
  for (let attempt = 0; ; attempt++) {
    const current = await ctx.store.read(type, id);
    if (!current || !isVisible(current, ctx)) throw fhirError('not-found', `${type}/${id} is not known`);
    // Deleting what is already deleted succeeds and writes nothing (idempotent).
    if (current.deleted) return { status: 204 };
    if (expected !== undefined && current.versionId !== expected) {
      throw fhirError('precondition-failed', `If-Match ${req.ifMatch} does not match the current version W/"${current.versionId}"`);
    }
    const tombstone = buildTombstone(current, ctx.now());
    try {
      await ctx.store.commit([{ record: tombstone, expect: { kind: 'version', versionId: current.versionId } }]);
      return req.preferReturn === 'OperationOutcome'
        ? { status: 200, body: informational(`${type}/${id} deleted`), etag: `W/"${tombstone.versionId}"` }
        : { status: 204, etag: `W/"${tombstone.versionId}"` };
    } catch (e) {
      if (!(e instanceof StoreConflict)) throw e;
      if (expected !== undefined) throw fhirError('precondition-failed', `${type}/${id} changed while it was being deleted`);
      if (attempt >= 2) throw fhirError('conflict', `${type}/${id} is being changed by others; try again`);
    }
  }
}

export const del: InteractionHandler = {
  name: 'delete',
  traits: { readOnly: false, needsType: true },
  async handle(req, ctx) {
    const type = req.type!;
    if (req.id !== undefined) return deleteOne(type, req.id, req, ctx);
    // Conditional delete (single): 0 matches is success, several is 412.
    const matches = await findMatches(ctx, type, req.query);
    if (matches.length > 1) throw fhirError('multiple-matches', `The criteria matched several ${type} resources; refine them`);
    if (matches.length === 0) return { status: 204 };
    return deleteOne(type, matches[0].id, req, ctx);
  },
};
