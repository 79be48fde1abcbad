import { isRepresentativeOf } from '../access/facts.js';
import { EMBARGO_MS, governedLabels, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX } from '../access/labels.js';
import type { Resource } from '../fhir/resource-types.js';
import type { Context } from '../interactions/types.js';
import type { CurrentRecord, Write } from '../store/store.js';
import { noticeRecord, TEXTS, type Notice } from './notice.js';

/** Whether the patient may not see the document yet: labelled INVISIBLE_PATIENT and its date less than a month past (as src/access/clauses.ts). */
export function hiddenFromPatient(resource: Resource | undefined, now: Date): boolean {
  if (!governedLabels(resource).has(INVISIBLE_PATIENT)) return false;
  const date = typeof resource?.date === 'string' ? Date.parse(resource.date) : NaN;
  return Number.isNaN(date) || date > now.getTime() - EMBARGO_MS;
}

interface DocumentChanges {
  added: string[];
  changed: string[];
  /** Documents of this commit that replace a changed one: their replacement is one change, not an addition too. */
  replacing: Map<string, string[]>;
}

const live = (r: CurrentRecord | undefined) => (r && !r.deleted ? r : undefined);
const replacesOf = (r: Resource | undefined): string[] =>
  ((r?.relatesTo as Array<{ code?: string; target?: { reference?: string } }> | undefined) ?? [])
    .filter((x) => x?.code === 'replaces' && typeof x.target?.reference === 'string')
    .map((x) => x.target!.reference!.replace(/^.*\/(DocumentReference\/[^/]+)$/, '$1'));

/**
 * The notifications a commit's writes cause, to commit with them: one per patient for the documents
 * of the commit (an ITI-65 submission of three documents gives one), one per attested Consent
 * recorded by a professional, one per new legal representative. Never for the patient's own
 * actions; a legal representative's are notified (the minor and the other representatives read
 * the same record). Documents the patient may not see yet (INVISIBLE_PATIENT) are notified when
 * they become visible by a write; documents hidden from legal representatives are not notified, as
 * a minor's notifications are read by their representatives.
 */
export async function writeNotices(writes: Write[], ctx: Context): Promise<Write[]> {
  const actor = ctx.facts.actor;
  const own = (patient: string) => actor.kind === 'patient' && actor.patient === patient;
  const now = ctx.now();
  const before = async (r: CurrentRecord) => (r.versionId > 1 ? live(await ctx.store.read(r.type, r.id)) : undefined);
  const documents = new Map<string, DocumentChanges>();
  const notices: Notice[] = [];

  for (const { record } of writes) {
    if (record.type === 'DocumentReference') {
      const prior = await before(record);
      const after = live(record);
      if (governedLabels(prior?.resource).has(INVISIBLE_REPRESENTANTS_LEGAUX) || governedLabels(after?.resource).has(INVISIBLE_REPRESENTANTS_LEGAUX)) continue;
      const seenBefore = prior !== undefined && !hiddenFromPatient(prior.resource, now);
      const seenAfter = after !== undefined && !hiddenFromPatient(after.resource, now);
      if (!seenBefore && !seenAfter) continue;
      const ref = `DocumentReference/${record.id}`;
      for (const patient of record.comp) {
        const d: DocumentChanges = documents.get(patient) ?? { added: [], changed: [], replacing: new Map() };
        documents.set(patient, d);
        if (seenBefore) d.changed.push(ref);
        else d.added.push(ref);
        if (!seenBefore) d.replacing.set(ref, replacesOf(after?.resource));
      }
    } else if (record.type === 'Consent' && actor.kind === 'professional' && !record.deleted) {
      for (const patient of record.comp) notices.push({ kind: 'authorization', patient, recipient: patient, about: [`Consent/${record.id}`], text: TEXTS.authorization });
    } else if (record.type === 'RelatedPerson') {
      const patient = isRepresentativeOf(record);
      if (patient && !isRepresentativeOf(await before(record))) {
        notices.push({ kind: 'representative', patient, recipient: patient, about: [`RelatedPerson/${record.id}`], text: TEXTS.representative });
      }
    }
  }
  for (const [patient, d] of documents) {
    const changed = new Set(d.changed);
    const added = d.added.filter((ref) => !(d.replacing.get(ref) ?? []).some((target) => changed.has(target)));
    const text = changed.size === 0 ? TEXTS.documentsNew(added.length) : added.length === 0 ? TEXTS.documentsChanged(changed.size) : TEXTS.documentsBoth(added.length, changed.size);
    notices.push({ kind: changed.size === 0 ? 'document-new' : 'document-changed', patient, recipient: patient, about: [...d.added, ...d.changed], text });
  }
  return notices
    .filter((n) => !own(n.patient))
    .map((n) => ({ record: noticeRecord(n, ctx), expect: { kind: 'absent' as const } }));
}
