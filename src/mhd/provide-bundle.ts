import { FhirError, type Issue } from '../errors.js';
import type { ParsedEntry } from '../interactions/bundle-entries.js';
import type { Context } from '../interactions/types.js';
import { PROVIDE_BUNDLE_PROFILES } from './codes.js';
import { isMhdList } from './list-types.js';
import { findByMasterIdentifier, type Identifier } from './master-identifier.js';

/**
 * IHE MHD ITI-65 Provide Document Bundle, as a Document Recipient checks it before anything is
 * planned (https://profiles.ihe.net/ITI/MHD/ITI-65.html#2365412-message-semantics): every
 * problem is one issue naming its element, and all are reported at once.
 */

type Json = Record<string, any>;

/** A transaction is an ITI-65 when it carries a SubmissionSet List or declares a ProvideBundle profile. */
export function isProvideBundle(bundle: unknown, parsed: ParsedEntry[]): boolean {
  const profiles: unknown[] = (bundle as Json | undefined)?.meta?.profile ?? [];
  if (Array.isArray(profiles) && profiles.some((p) => typeof p === 'string' && PROVIDE_BUNDLE_PROFILES.has(p.split('|')[0]!))) return true;
  return parsed.some((p) => isMhdList(p.req.body, 'submissionset'));
}

const issue = (code: string, diagnostics: string, expression: string): Issue => ({ severity: 'error', code, diagnostics, expression: [expression] });

const keyOf = (id: Identifier) => `${id.system ?? ''}|${id.value}`;

/** Throws a 422 (or 409 when the only problems are masterIdentifiers already stored) listing every problem. */
export async function checkProvideBundle(parsed: ParsedEntry[], ctx: Context): Promise<void> {
  const issues: Issue[] = [];
  const resourceOf = (p: ParsedEntry) => (p.req.interaction === 'patch' ? undefined : (p.req.body as Json | undefined));
  const sets = parsed.filter((p) => isMhdList(resourceOf(p), 'submissionset'));
  const folders = parsed.filter((p) => isMhdList(resourceOf(p), 'folder'));
  const docs = parsed.filter((p) => resourceOf(p)?.resourceType === 'DocumentReference');
  const binaries = new Set(parsed.filter((p) => resourceOf(p)?.resourceType === 'Binary' && p.fullUrl).map((p) => p.fullUrl!));

  if (sets.length === 0) issues.push(issue('required', 'An ITI-65 Provide Document Bundle needs one SubmissionSet (a List with code submissionset); there is none', 'Bundle.entry'));
  for (const extra of sets.slice(1)) issues.push(issue('structure', 'An ITI-65 Provide Document Bundle has exactly one SubmissionSet; this is another', `${extra.where}.resource.code`));
  if (docs.length === 0) issues.push(issue('required', 'An ITI-65 Provide Document Bundle needs at least one DocumentReference', 'Bundle.entry'));

  for (const p of [...sets, ...folders, ...docs]) {
    if (p.req.interaction !== 'create') issues.push(issue('invalid', `${p.where}: a ${resourceOf(p)!.resourceType} of an ITI-65 is created with POST`, `${p.where}.request.method`));
    // Validated here too (create validates again) so that every entry's problems come back at once.
    const resource = resourceOf(p)!;
    for (const i of ctx.validator.validate(resource).issues) {
      if (i.severity !== 'error' && i.severity !== 'fatal') continue;
      const expression = (i.expression ?? []).map((e) => e.replace(/^[A-Za-z]+(?=$|[.[(])/, `${p.where}.resource`));
      issues.push({ ...i, diagnostics: `${p.where}: ${i.diagnostics}`, expression });
    }
  }

  const listed = new Set<string>((sets[0] ? (resourceOf(sets[0])!.entry ?? []) : []).map((e: Json) => e?.item?.reference).filter((r: unknown) => typeof r === 'string'));
  const seen = new Map<string, string>();
  const stored: Array<{ id: Identifier; at: string }> = [];
  for (const p of docs) {
    const doc = resourceOf(p)!;
    const at = `${p.where}.resource`;
    if (!p.fullUrl) issues.push(issue('required', `${p.where}: a DocumentReference of an ITI-65 needs a fullUrl, for the SubmissionSet to list it`, `${p.where}.fullUrl`));
    else if (sets.length > 0 && !listed.has(p.fullUrl)) {
      issues.push(issue('invalid', `${p.where}: DocumentReference ${p.fullUrl} is not listed in the SubmissionSet (List.entry.item)`, `${sets[0].where}.resource.entry`));
    }
    const master = doc.masterIdentifier as Identifier | undefined;
    if (typeof master?.value !== 'string' || master.value === '') {
      issues.push(issue('required', `${p.where}: Missing element 'masterIdentifier', required by IHE MHD (the document's uniqueId)`, `${at}.masterIdentifier`));
    } else if (seen.has(keyOf(master))) {
      issues.push(issue('duplicate', `${p.where}: masterIdentifier ${keyOf(master)} is also the masterIdentifier of ${seen.get(keyOf(master))}`, `${at}.masterIdentifier`));
    } else {
      seen.set(keyOf(master), p.where);
      stored.push({ id: master, at: `${at}.masterIdentifier` });
    }
    (Array.isArray(doc.content) ? doc.content : []).forEach((c: Json, i: number) => {
      const url = c?.attachment?.url;
      const where = `${at}.content[${i}].attachment.url`;
      if (typeof url !== 'string') return; // a missing url is a profile issue (MHD Minimal: 1..1)
      if (binaries.has(url)) return;
      if (/^https?:\/\//.test(url) && !parsed.some((q) => q.fullUrl === url)) return;
      issues.push(issue('invalid', `${p.where}: attachment.url ${url} must be the fullUrl of a Binary entry of this Bundle or an absolute URL`, where));
    });
  }

  for (const { id, at } of stored) {
    if ((await findByMasterIdentifier(ctx, id)).length > 0) {
      issues.push(issue('duplicate', `A DocumentReference with masterIdentifier ${keyOf(id)} is already stored; a document is submitted once (replace it with relatesTo.code = replaces and a new masterIdentifier)`, at));
    }
  }

  if (issues.length === 0) return;
  const onlyDuplicates = issues.every((i) => i.code === 'duplicate');
  throw new FhirError(onlyDuplicates ? 'conflict' : 'invalid-resource', issues[0].diagnostics, { issues: dedupe(issues) });
}

/** The validator and the checks above can name the same missing element. */
function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const missing = /Missing element '([^']+)'/.exec(i.diagnostics)?.[1];
    const key = missing ? `missing|${i.expression?.[0]}` : `${i.code}|${i.expression?.[0]}|${i.diagnostics}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
