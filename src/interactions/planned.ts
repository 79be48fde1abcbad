import { fhirError } from '../errors.js';
import { StoreConflict, type Write } from '../store/store.js';
import { writeNotices } from '../notify/writes.js';
import type { Context, FhirRequest, FhirResult, InteractionHandler } from './types.js';

/** What a write interaction decided: the store writes (with their expectations) and the reply. */
export interface Plan {
  writes: Write[];
  result: FhirResult;
}

export type Planner = (req: FhirRequest, ctx: Context) => Promise<Plan>;

export interface WriteHandler extends InteractionHandler {
  /** Plans without writing, so a transaction can commit the writes of all its entries at once. */
  plan: Planner;
}

const ATTEMPTS = 3;

/**
 * Plans and commits. A conflict (someone wrote first) re-plans on the newer version, unless the
 * client pinned a version with If-Match, which then no longer holds (412).
 */
export async function commitPlanned(plan: Planner, req: FhirRequest, ctx: Context): Promise<FhirResult> {
  for (let attempt = 1; ; attempt++) {
    const p = await plan(req, ctx);
    if (p.writes.length === 0) return p.result;
    try {
      // The patient's notifications of these writes, in the same commit (src/notify/).
      await ctx.store.commit([...p.writes, ...(await writeNotices(p.writes, ctx))]);
      return p.result;
    } catch (e) {
      if (!(e instanceof StoreConflict)) throw e;
      if (req.ifMatch !== undefined) throw fhirError('precondition-failed', `${e.type}/${e.id} changed while this request was applied; If-Match no longer holds`);
      if (attempt >= ATTEMPTS) throw fhirError('conflict', `${e.type}/${e.id} is being changed by others; try again`);
    }
  }
}

export function writeHandler(name: WriteHandler['name'], plan: Planner): WriteHandler {
  return { name, traits: { readOnly: false, needsType: true }, plan, handle: (req, ctx) => commitPlanned(plan, req, ctx) };
}

export function planned(writes: Write[], result: FhirResult): Plan {
  return { writes, result };
}
