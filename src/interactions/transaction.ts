import { fhirError } from '../errors.js';
import { PATIENT_REFERENCE } from '../fhir/resource-types.js';
import type { Write } from '../store/store.js';
import { StoreConflict } from '../store/store.js';
import { mhdTransaction } from '../mhd/transaction-hooks.js';
import { writeNotices } from '../notify/writes.js';
import { bundle, type BundleEntry } from './bundle.js';
import { inEntry, parseEntries, responseEntry, type InputEntry, type ParsedEntry } from './bundle-entries.js';
import { criteriaFromString, findMatches } from './conditional.js';
import type { Executor } from './executor.js';
import type { WriteHandler } from './planned.js';
import { rewriteReferences } from './references.js';
import type { Context, FhirRequest, FhirResult, InteractionHandler, TransactionScope } from './types.js';
import { newId } from './write-checks.js';

/** FHIR R4 http.html#trules: deletes, then creates, then updates and patches, then reads. */
const ORDER: Record<string, number> = { delete: 0, create: 1, update: 2, patch: 2 };
/** Within creates and updates, Binaries first: documents are checked against their bytes. */
const binaryFirst = (p: ParsedEntry) => (p.req.type === 'Binary' ? 0 : 1);

/**
 * A Binary that a DocumentReference of the same transaction points to takes that document as its
 * securityContext (unless it has one), so it is seen by whoever may see the document; the
 * document's patient is known before it is planned.
 */
function linkBinariesToDocuments(parsed: ParsedEntry[], baseUrl: string, scope: TransactionScope): void {
  const binaries = new Map(parsed.filter((p) => p.req.type === 'Binary' && p.req.id).map((p) => [`${baseUrl}/Binary/${p.req.id}`, p]));
  for (const p of parsed) {
    const doc = p.req.body as { resourceType?: string; subject?: { reference?: string }; content?: Array<{ attachment?: { url?: string } }> } | undefined;
    if (doc?.resourceType !== 'DocumentReference' || !p.req.id) continue;
    const subject = doc.subject?.reference;
    if (subject && PATIENT_REFERENCE.test(subject)) scope.compartments.set(`DocumentReference/${p.req.id}`, [subject]);
    for (const c of doc.content ?? []) {
      const bin = c.attachment?.url ? binaries.get(c.attachment.url) : undefined;
      const body = bin?.req.body as { securityContext?: unknown } | undefined;
      if (body && body.securityContext === undefined) body.securityContext = { reference: `DocumentReference/${p.req.id}` };
    }
  }
}
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

/**
 * Assigns the ids of created resources up front, so references to their fullUrls can be rewritten.
 * A conditional create (ifNoneExist) whose criteria match a resource stands for that resource:
 * references to its fullUrl point there (FHIR http.html#trules), and its create answers 200.
 */
async function assignIds(parsed: ParsedEntry[], existing: (p: ParsedEntry) => Promise<string | undefined>): Promise<Map<string, string>> {
  const assigned = new Map<string, string>();
  for (const p of parsed) {
    if (p.req.interaction === 'create') p.req.id = newId();
    if (p.fullUrl && p.req.id && (p.req.interaction === 'create' || p.req.interaction === 'update')) {
      if (assigned.has(p.fullUrl)) throw fhirError('bad-request', `${p.where}: fullUrl ${p.fullUrl} appears twice`, `${p.where}.fullUrl`);
      const found = p.req.interaction === 'create' && p.req.ifNoneExist !== undefined ? await existing(p) : undefined;
      assigned.set(p.fullUrl, found ?? `${p.req.type}/${p.req.id}`);
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
      // The entries share the transaction's access facts and search budget.
      const prepare = (r: FhirRequest) => executor.prepare(r, ctx.principal, ctx.requestId, ctx.log, ctx.facts, ctx.budget);
      // A conflict (a concurrent write, or a conditional create that someone else's create now
      // matches) runs the whole transaction again: its conditional parts resolve anew.
      for (let attempt = 1; ; attempt++) {
        try {
          const { parsed, reads, results } = await attemptTransaction(req, ctx, entries, prepare);
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
        } catch (e) {
          if (!(e instanceof StoreConflict)) throw e;
          if (entries.some((entry) => entry?.request?.ifMatch !== undefined)) throw fhirError('precondition-failed', `${e.type}/${e.id} changed while the transaction was applied`);
          if (attempt >= ATTEMPTS) throw fhirError('conflict', `${e.type}/${e.id} is being changed by others; try the transaction again`);
        }
      }
    },
  };
}

/** Parses, resolves, rewrites, plans and commits the writes of a transaction once; StoreConflict if someone wrote first. */
async function attemptTransaction(req: FhirRequest, ctx: Context, entries: InputEntry[], prepare: (r: FhirRequest) => ReturnType<Executor['prepare']>) {
  const parsed = parseEntries(entries, ctx.baseUrl, req);
  const assigned = await assignIds(parsed, async (p) => {
    try {
      // The create's own context: the same access clauses its planner searches with.
      const { ctx: entryCtx } = prepare(p.req);
      const matches = await findMatches(entryCtx, p.req.type!, criteriaFromString(p.req.ifNoneExist!));
      // Several matches: the create's planner refuses the entry (412), as outside a transaction.
      return matches.length === 1 ? `${p.req.type}/${matches[0].id}` : undefined;
    } catch (e) {
      throw inEntry(e, p.where);
    }
  });
  // IHE MHD / PDSm rules: ITI-65 checks, patient-authored documents, replacements.
  const mhd = mhdTransaction(req.body, parsed, ctx, prepare);
  await mhd.beforeRewrite();

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
  mhd.afterRewrite();
  const scope: TransactionScope = { blobs: new Map(), compartments: new Map() };
  linkBinariesToDocuments(parsed, ctx.baseUrl, scope);

  const writes = parsed
    .filter((p) => p.req.interaction in ORDER)
    .sort((a, b) => ORDER[a.req.interaction] - ORDER[b.req.interaction] || binaryFirst(a) - binaryFirst(b) || a.index - b.index);
  const reads = parsed.filter((p) => !(p.req.interaction in ORDER));
  const results = new Map<number, FhirResult>();
  const all: Write[] = [];
  const targets = new Set<string>();
  const claim = (w: Write) => {
    const key = `${w.record.type}/${w.record.id}`;
    if (targets.has(key)) throw fhirError('bad-request', `${key} is changed by more than one entry of this transaction`);
    targets.add(key);
    all.push(w);
  };
  for (const p of writes) {
    try {
      const { handler, ctx: entryCtx } = prepare(p.req);
      entryCtx.transaction = scope;
      const plan = await (handler as WriteHandler).plan(p.req, entryCtx);
      plan.writes.forEach(claim);
      for (const w of plan.writes) scope.compartments.set(`${w.record.type}/${w.record.id}`, w.record.comp);
      results.set(p.index, plan.result);
    } catch (e) {
      throw inEntry(e, p.where);
    }
  }
  (await mhd.extraWrites(all)).forEach(claim);
  // One notification per patient for the whole transaction (an ITI-65 submission), in its commit.
  if (all.length > 0) await ctx.store.commit([...all, ...(await writeNotices(all, ctx))]);
  return { parsed, reads, results };
}
