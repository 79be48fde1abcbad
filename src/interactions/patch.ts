import jsonpatch from 'fast-json-patch';
import { fhirError } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import { applyFhirPathPatch, isFhirPathPatch } from '../mhd/fhirpath-patch.js';
import { findMatches } from './conditional.js';
import { writeHandler, type Plan } from './planned.js';
import { readVisible } from './records.js';
import { planVersion } from './update.js';
import type { Context, FhirRequest } from './types.js';
import { validateOrThrow } from './write-checks.js';

const UNPROCESSABLE = new Set(['TEST_OPERATION_FAILED', 'OPERATION_PATH_UNRESOLVABLE', 'OPERATION_PATH_CANNOT_ADD']);

/**
 * A path through `__proto__` or `constructor/prototype` names no element of a resource; the
 * library refuses it with a bare TypeError (its prototype pollution guard), told apart here.
 */
function checkPrototypePaths(ops: unknown[], type: string): void {
  ops.forEach((op, i) => {
    if (op === null || typeof op !== 'object') return;
    for (const field of ['path', 'from'] as const) {
      const pointer = (op as Record<string, unknown>)[field];
      if (typeof pointer !== 'string') continue;
      const keys = pointer.split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
      if (keys.some((k, at) => k === '__proto__' || (k === 'prototype' && keys[at - 1] === 'constructor'))) {
        throw fhirError('invalid-resource', `JSON Patch operation ${i + 1} failed: ${field} ${JSON.stringify(pointer)} names no element of a ${type}`, type);
      }
    }
  });
}

/** Applies an RFC 6902 JSON Patch to a copy of the resource; the original is never touched. */
export function applyJsonPatch(resource: Resource, ops: unknown, type: string): Resource {
  if (!Array.isArray(ops)) throw fhirError('bad-request', 'A JSON Patch body must be an array of operations');
  checkPrototypePaths(ops, type);
  try {
    const copy = jsonpatch.deepClone(resource) as Resource;
    return jsonpatch.applyPatch(copy, ops as jsonpatch.Operation[], true, true, true).newDocument as Resource;
  } catch (e) {
    if (e instanceof jsonpatch.JsonPatchError) {
      const message = `JSON Patch operation ${(e.index ?? 0) + 1} failed: ${e.message.split('\n')[0]}`;
      throw fhirError(UNPROCESSABLE.has(e.name) ? 'invalid-resource' : 'bad-request', message, `${type}`);
    }
    throw e;
  }
}

async function planPatch(type: string, id: string, req: FhirRequest, ctx: Context): Promise<Plan> {
  const current = await readVisible(ctx, type, id);
  const patched = req.contentType === 'application/json-patch+json' ? applyJsonPatch(current.resource!, req.body, type) : applyFhirPathPatch(current.resource!, req.body);
  if (patched.resourceType !== type || patched.id !== id) {
    throw fhirError('invalid-resource', 'A patch may not change resourceType or id', `${type}.id`);
  }
  await validateOrThrow(patched, ctx);
  const plan = await planVersion(patched, type, id, req, ctx);
  // The patch was computed on the version read above: commit only on top of that version.
  plan.writes[0].expect = { kind: 'version', versionId: current.versionId };
  return plan;
}

export const patch = writeHandler('patch', async (req, ctx) => {
  const type = req.type!;
  const fhirPath = (req.contentType === 'application/fhir+json' || req.contentType === 'application/json') && isFhirPathPatch(req.body);
  if (req.contentType !== 'application/json-patch+json' && !fhirPath) {
    throw fhirError('unsupported-media-type', 'PATCH takes a JSON Patch (Content-Type: application/json-patch+json) or a FHIRPath Patch (a Parameters resource, Content-Type: application/fhir+json)');
  }
  if (req.id !== undefined) return planPatch(type, req.id, req, ctx);
  const matches = await findMatches(ctx, type, req.query);
  if (matches.length > 1) throw fhirError('multiple-matches', `The criteria matched several ${type} resources`);
  if (matches.length === 0) throw fhirError('not-found', `No ${type} matches the criteria`);
  return planPatch(type, matches[0].id, req, ctx);
});
