import type { ParsedEntry } from '../interactions/bundle-entries.js';
import type { Context } from '../interactions/types.js';
import type { Write } from '../store/store.js';
import { guardMasterIdentifiers } from './master-identifier.js';
import { checkPatientDocument } from './patient-documents.js';
import { checkProvideBundle, isProvideBundle } from './provide-bundle.js';
import { planReplacements, replacementsOf, type Prepare } from './replacement.js';

/** What a transaction asks of the MHD rules, at three points of its run. */
export interface TransactionHooks {
  /** Before references are rewritten: the ITI-65 checks (all problems at once). */
  beforeRewrite(): Promise<void>;
  /** After rewriting: patient-authored documents, replacements to plan. */
  afterRewrite(): void;
  /**
   * Given the entries' writes: the writes that supersede replaced documents; in a submission
   * (ITI-65), each new document's write also commits only while its masterIdentifier is unused.
   */
  extraWrites(planned: Write[]): Promise<Write[]>;
}

export function mhdTransaction(bundle: unknown, parsed: ParsedEntry[], ctx: Context, prepare: Prepare): TransactionHooks {
  let replacements: ReturnType<typeof replacementsOf> = [];
  const submission = isProvideBundle(bundle, parsed);
  return {
    async beforeRewrite() {
      if (submission) await checkProvideBundle(parsed, ctx);
    },
    afterRewrite() {
      // Also checked by the planners (every path); here first, so that the document's rule, not its
      // Binary's compartment, explains a refusal.
      for (const p of parsed) {
        if (p.req.interaction === 'create' || p.req.interaction === 'update') checkPatientDocument(p.req.body, ctx.principal, ctx.baseUrl, `${p.where}.resource`);
      }
      replacements = replacementsOf(parsed, ctx.baseUrl);
    },
    extraWrites: (planned) => {
      if (submission) guardMasterIdentifiers(ctx, planned);
      return replacements.length > 0 ? planReplacements(replacements, parsed, planned, prepare) : Promise.resolve([]);
    },
  };
}
