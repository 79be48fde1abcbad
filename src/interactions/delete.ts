import { fhirError, informational } from '../errors.js';
import { findMatches } from './conditional.js';
import { planned, writeHandler, type Plan } from './planned.js';
import { buildTombstone, canSee, parseIfMatch, unknown } from './records.js';
import { checkDeleteRules } from '../access/write-rules.js';
import type { Context, FhirRequest } from './types.js';

async function planDelete(type: string, id: string, req: FhirRequest, ctx: Context): Promise<Plan> {
  const expected = req.ifMatch !== undefined ? parseIfMatch(req.ifMatch) : undefined;
  const current = await ctx.store.read(type, id);
  if (!current || !(await canSee(current, ctx))) throw unknown(type, id);
  checkDeleteRules(current, ctx.facts);
  // Deleting what is already deleted succeeds and writes nothing (idempotent).
  if (current.deleted) return planned([], { status: 204 });
  if (expected !== undefined && current.versionId !== expected) {
    throw fhirError('precondition-failed', `If-Match ${req.ifMatch} does not match the current version W/"${current.versionId}"`);
  }
  const tombstone = buildTombstone(current, ctx.now(), ctx.principal);
  const tag = `W/"${tombstone.versionId}"`;
  const result = req.preferReturn === 'OperationOutcome'
    ? { status: 200, body: informational(`${type}/${id} deleted`), etag: tag }
    : { status: 204, etag: tag };
  return planned([{ record: tombstone, expect: { kind: 'version', versionId: current.versionId } }], result);
}

export const del = writeHandler('delete', async (req, ctx) => {
  const type = req.type!;
  if (req.id !== undefined) return planDelete(type, req.id, req, ctx);
  // Conditional delete (single): 0 matches is success, several is 412.
  const matches = await findMatches(ctx, type, req.query);
  if (matches.length > 1) throw fhirError('multiple-matches', `The criteria matched several ${type} resources; refine them`);
  if (matches.length === 0) return planned([], { status: 204 });
  return planDelete(type, matches[0].id, req, ctx);
});
