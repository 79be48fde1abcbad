import { FhirError, type Issue } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import type { ParsedEntry } from '../interactions/bundle-entries.js';
import type { WriteHandler } from '../interactions/planned.js';
import { isVisible } from '../interactions/records.js';
import type { Context, FhirRequest, InteractionHandler } from '../interactions/types.js';
import type { Write } from '../store/store.js';

/**
 * Document replacement (MHD ITI-65, XDS RPLC): a DocumentReference created with
 * relatesTo.code = replaces makes its target superseded in the same commit. PDSm bundles also carry
 * the change themselves (a PATCH entry on the target); then that entry must leave the target
 * superseded and nothing is added.
 */

export type Prepare = (req: FhirRequest) => { handler: InteractionHandler; ctx: Context };

interface Replacement {
  id: string;
  /** The element naming the target, for messages. */
  where: string;
}

const ID = /^DocumentReference\/([A-Za-z0-9\-.]{1,64})$/;

/** The replacements the created DocumentReferences of a transaction ask for (references already rewritten). */
export function replacementsOf(parsed: ParsedEntry[], baseUrl: string): Replacement[] {
  const out: Replacement[] = [];
  const issues: Issue[] = [];
  for (const p of parsed) {
    const doc = p.req.body as Resource | undefined;
    if (p.req.interaction !== 'create' || doc?.resourceType !== 'DocumentReference' || !Array.isArray(doc.relatesTo)) continue;
    doc.relatesTo.forEach((r: { code?: string; target?: { reference?: string } }, i: number) => {
      if (r?.code !== 'replaces') return;
      const where = `${p.where}.resource.relatesTo[${i}].target.reference`;
      const raw = r.target?.reference ?? '';
      const m = ID.exec(raw.startsWith(baseUrl + '/') ? raw.slice(baseUrl.length + 1) : raw);
      if (!m) issues.push({ severity: 'error', code: 'invalid', diagnostics: `${where}: a replaced document must be a DocumentReference of this server, got '${raw}'`, expression: [where] });
      else out.push({ id: m[1], where });
    });
  }
  if (issues.length > 0) throw new FhirError('invalid-resource', issues[0].diagnostics, { issues });
  return out;
}

/**
 * The writes that supersede the replaced documents, planned through the update interaction (so
 * its access decision, validation and versioning apply), given the writes the entries planned.
 */
export async function planReplacements(replacements: Replacement[], parsed: ParsedEntry[], planned: Write[], prepare: Prepare): Promise<Write[]> {
  const writes: Write[] = [];
  const issues: Issue[] = [];
  const fail = (where: string, message: string) => issues.push({ severity: 'error', code: 'invalid', diagnostics: `${where}: ${message}`, expression: [where] });
  for (const { id, where } of replacements) {
    const req: FhirRequest = { interaction: 'update', type: 'DocumentReference', id, query: {} };
    const { handler, ctx } = prepare(req);
    const current = await ctx.store.read('DocumentReference', id);
    // What the caller may not see does not exist for them, as a replaced document too.
    if (!current || current.deleted || !current.resource || !isVisible(current, ctx)) {
      fail(where, `the replaced DocumentReference/${id} is not known`);
      continue;
    }
    if (current.resource.status !== 'current') {
      fail(where, `DocumentReference/${id} is ${String(current.resource.status)}; only a current document can be replaced`);
      continue;
    }
    const own = parsed.find((p) => p.req.type === 'DocumentReference' && p.req.id === id && p.req.interaction !== 'create');
    if (own) {
      const after = planned.find((w) => w.record.type === 'DocumentReference' && w.record.id === id);
      if (after && after.record.resource?.status !== 'superseded') {
        fail(`${own.where}`, `this entry changes the replaced DocumentReference/${id} but does not make it superseded`);
      }
      continue;
    }
    req.body = { ...current.resource, status: 'superseded' };
    const plan = await (handler as WriteHandler).plan(req, ctx);
    // Computed from the version read above: commit only on top of it (a conflict re-plans).
    plan.writes[0].expect = { kind: 'version', versionId: current.versionId };
    writes.push(...plan.writes);
  }
  if (issues.length > 0) throw new FhirError('invalid-resource', issues[0].diagnostics, { issues });
  return writes;
}
