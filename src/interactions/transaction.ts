import { fhirError } from '../errors.js';
import type { Write } from '../store/store.js';
import { StoreConflict } from '../store/store.js';
import { bundle, type BundleEntry } from './bundle.js';
import { inEntry, parseEntries, responseEntry, type InputEntry, type ParsedEntry } from './bundle-entries.js';
import { criteriaFromString, findMatches } from './conditional.js';
import type { Executor } from './executor.js';
import type { WriteHandler } from './planned.js';
import { rewriteReferences } from './references.js';
import type { FhirRequest, FhirResult, InteractionHandler } from './types.js';
import { newId } from './write-checks.js';

/** FHIR R4 http.html#trules: deletes, then creates, then updates and patches, then reads. */
const ORDER: Record<string, number> = { delete: 0, create: 1, update: 2, patch: 2 };
const ATTEMPTS = 3;

export function checkBundle(body: unknown, kind: 'transaction' | 'batch', maxEntries: number): InputEntry[] {
  const b = body as { resourceType?: string; type?: string; entry?: unknown };
  if (b?.resourceType !== 'Bundle') throw fhirError('bad-request', 'POST to the base URL takes a Bundle of type batch or transaction', 'Bundle.resourceType');
  if (b.type !== kind) throw fhirError('bad-request', `Bundle.type must be batch or transaction, got "${String(b.type)}"`, 'Bundle.type');
  const entries = b.entry ?? [];
  if (!Array.isArray(entries)) throw fhirError('bad-request', 'Bundle.entry must be an array', 'Bundle.entry');
  if (entries.length > maxEntries) throw fhirError('too-large', `This server takes at most ${maxEntries} entries in a ${kind}; this one has ${entries.length}`, 'Bundle.entry');
  return entries as InputEntry[];
}

/** Assigns the ids of created resources up front, so references to their fullUrls can be rewritten. */
function assignIds(parsed: ParsedEntry[]): Map<string, string> {
  const assigned = new Map<string, string>();
  for (const p of parsed) {
    if (p.req.interaction === 'create') p.req.id = newId();
    if (p.fullUrl && p.req.id && (p.req.interaction === 'create' || p.req.interaction === 'update')) {
      if (assigned.has(p.fullUrl)) throw fhirError('bad-request', `${p.where}: fullUrl ${p.fullUrl} appears twice`, `${p.where}.fullUrl`);
      assigned.set(p.fullUrl, `${p.req.type}/${p.req.id}`);
    }
  }
  return assigned;
}

export function transactionInteraction(getExecutor: () => Executor, maxEntries: number): InteractionHandler {
  return {
    name: 'transaction',
    traits: { readOnly: false, needsType: false },
    async handle(req, ctx) {
      const executor = getExecutor();
      const entries = checkBundle(req.body, 'transaction', maxEntries);
      const parsed = parseEntries(entries, ctx.baseUrl, req);
      const assigned = assignIds(parsed);
      const prepare = (r: FhirRequest) => executor.prepare(r, ctx.principal, ctx.requestId, ctx.log);

      const resolved = new Map<string, string>();
      const resolve = async (reference: string, where: string): Promise<string> => {
        const known = resolved.get(reference);
        if (known) return known;
        const type = reference.slice(0, reference.indexOf('?'));
        const search = prepare({ interaction: 'search-type', type, query: {} });
        const matches = await findMatches(search.ctx, type, criteriaFromString(reference));
        if (matches.length === 0) throw fhirError('precondition-failed', `${where}: no ${type} matches ${reference}`, where);
        if (matches.length > 1) throw fhirError('multiple-matches', `${where}: several ${type} resources match ${reference}`, where);
        resolved.set(reference, `${type}/${matches[0].id}`);
        return `${type}/${matches[0].id}`;
      };
      for (const p of parsed) {
        if (p.req.body !== undefined && p.req.interaction !== 'patch') {
          try {
            p.req.body = await rewriteReferences(p.req.body, assigned, ctx.baseUrl, resolve, `${p.where}.resource`);
          } catch (e) {
            throw inEntry(e, p.where);
          }
        }
      }

      const writes = parsed.filter((p) => p.req.interaction in ORDER).sort((a, b) => ORDER[a.req.interaction] - ORDER[b.req.interaction] || a.index - b.index);
      const reads = parsed.filter((p) => !(p.req.interaction in ORDER));
      const results = new Map<number, FhirResult>();
      for (let attempt = 1; ; attempt++) {
        const all: Write[] = [];
        const targets = new Set<string>();
        for (const p of writes) {
          try {
            const { handler, ctx: entryCtx } = prepare(p.req);
            const plan = await (handler as WriteHandler).plan(p.req, entryCtx);
            for (const w of plan.writes) {
              const key = `${w.record.type}/${w.record.id}`;
              if (targets.has(key)) throw fhirError('bad-request', `${key} is changed by more than one entry of this transaction`);
              targets.add(key);
            }
            all.push(...plan.writes);
            results.set(p.index, plan.result);
          } catch (e) {
            throw inEntry(e, p.where);
          }
        }
        try {
          if (all.length > 0) await ctx.store.commit(all);
          break;
        } catch (e) {
          if (!(e instanceof StoreConflict)) throw e;
          if (parsed.some((p) => p.req.ifMatch !== undefined)) throw fhirError('precondition-failed', `${e.type}/${e.id} changed while the transaction was applied`);
          if (attempt >= ATTEMPTS) throw fhirError('conflict', `${e.type}/${e.id} is being changed by others; try the transaction again`);
        }
      }
      for (const p of reads) {
        try {
          const { handler, ctx: entryCtx } = prepare(p.req);
          results.set(p.index, await handler.handle(p.req, entryCtx));
        } catch (e) {
          throw inEntry(e, p.where);
        }
      }
      const out: BundleEntry[] = parsed.map((p) => responseEntry(results.get(p.index)!, ctx.baseUrl));
      return { status: 200, body: bundle('transaction-response', out, { now: ctx.now() }) };
    },
  };
}
