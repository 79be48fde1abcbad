import { fhirError } from '../errors.js';
import { checkPatientDocument } from '../mhd/patient-documents.js';
import type { Resource } from '../fhir/resource-types.js';
import { findMatches } from './conditional.js';
import { binaryLinks } from './attachments.js';
import type { Write } from '../store/store.js';
import { planned, writeHandler, type Plan } from './planned.js';
import { buildRecord, canSee, parseIfMatch, unknown, writerOf } from './records.js';
import type { Context, FhirRequest } from './types.js';
import { prepareForStorage, withInheritedCompartments } from './prepare.js';
import { afterIndexing, checkBody, checkWritable, newId, rawBinary, validateOrThrow, writeResult } from './write-checks.js';

/** Plans a new version of type/id (or its first: create-on-update), honouring If-Match. */
export async function planVersion(resource: Resource, type: string, id: string, req: FhirRequest, ctx: Context): Promise<Plan> {
  const expected = req.ifMatch !== undefined ? parseIfMatch(req.ifMatch) : undefined;
  const current = await ctx.store.read(type, id);
  // What the caller may not see, deleted or not, is unknown to them; and so that an unknown id
  // answers exactly as a hidden one, only system clients create with an id of their choosing.
  if (current ? !(await canSee(current, ctx)) : ctx.facts.actor.kind !== 'system') throw unknown(type, id);
  // A patient masking someone else's document changes its labels only (write-rules.ts): the rules
  // of the documents a patient adds are for their own.
  const othersDocument = current !== undefined && !current.deleted && !current.by?.includes(writerOf(ctx.principal));
  if (!othersDocument) checkPatientDocument(resource, ctx.principal, ctx.baseUrl);
  const currentVersion = current?.versionId ?? 0;
  const live = current !== undefined && !current.deleted;
  if (expected !== undefined && (!live || currentVersion !== expected)) {
    throw fhirError('precondition-failed', `If-Match ${req.ifMatch} does not match the current version of ${type}/${id} (${live ? `W/"${currentVersion}"` : 'none'})`);
  }
  const stored = await prepareForStorage(resource, id, req, ctx);
  const record = await withInheritedCompartments(await afterIndexing(buildRecord(stored, type, id, current, ctx)), ctx);
  checkWritable(record, ctx, current);
  const links = (await binaryLinks(record, ctx)).map((b): Write => ({ record: b, expect: { kind: 'version', versionId: b.versionId - 1 } }));
  return planned([{ record, expect: { kind: 'version', versionId: currentVersion } }, ...links], writeResult(record, live ? 200 : 201, req, ctx));
}

export const update = writeHandler('update', async (req, ctx) => {
  const type = req.type!;
  if (req.id !== undefined) {
    const resource = req.raw ? { ...rawBinary(req, ctx.baseUrl), id: req.id } : checkBody(req.body, type, req.id);
    await validateOrThrow(resource, ctx);
    return planVersion(resource, type, req.id, req, ctx);
  }
  // Conditional update: PUT [type]?criteria
  const resource = checkBody(req.body, type);
  await validateOrThrow(resource, ctx);
  const matches = await findMatches(ctx, type, req.query);
  if (matches.length > 1) throw fhirError('multiple-matches', `The criteria matched several ${type} resources`);
  if (matches.length === 1) {
    const id = matches[0].id;
    if (resource.id !== undefined && resource.id !== id) {
      throw fhirError('bad-request', `The body's id "${resource.id}" is not the id of the matching resource`, `${type}.id`);
    }
    return planVersion({ ...resource, id }, type, id, req, ctx);
  }
  const id = resource.id ?? newId();
  return planVersion({ ...resource, id }, type, id, req, ctx);
});
