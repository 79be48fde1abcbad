import { EMBARGO_MS, governedLabels, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX, labelEntry } from '../access/labels.js';
import type { Job } from '../jobs/scheduler.js';
import { StoreConflict, type Store } from '../store/store.js';
import { noticeRecord, onceId, TEXTS, type RecordDeps } from './notice.js';
import { hiddenFromPatient } from './writes.js';

/** A document still hidden from its patient this long after its date is notified to them. */
export const EMBARGO_NOTICE_MS = 14 * 24 * 3600 * 1000;
const PAGE = 500;

export type EmbargoJobDeps = Omit<RecordDeps, 'now'> & { store: Store };

/**
 * Daily: each current document labelled INVISIBLE_PATIENT whose date is two weeks to a month past
 * (after a month the patient sees it anyway) gets one notification to its patient, whatever the
 * number of runs (its id is the document's).
 */
export function embargoNoticeJob(deps: EmbargoJobDeps): Job {
  return {
    name: 'notify-embargoed-documents',
    cron: '0 8 * * *',
    async run(ctx) {
      const now = ctx.now();
      const since = { idx: { $elemMatch: { p: 'date', st: { $lte: now.getTime() - EMBARGO_NOTICE_MS, $gt: now.getTime() - EMBARGO_MS } } } };
      const filter = { $and: [labelEntry(INVISIBLE_PATIENT), since] };
      let notified = 0;
      for (let offset = 0; !ctx.signal.aborted; offset += PAGE) {
        const { records } = await deps.store.search({ types: ['DocumentReference'], filter, sort: [], offset, limit: PAGE, count: false });
        for (const doc of records) {
          if (doc.resource?.status !== 'current' || !hiddenFromPatient(doc.resource, now) || governedLabels(doc.resource).has(INVISIBLE_REPRESENTANTS_LEGAUX)) continue;
          for (const patient of doc.comp) {
            const id = onceId('document-embargoed', patient, `DocumentReference/${doc.id}`);
            if (await deps.store.read('Communication', id)) continue;
            const record = noticeRecord({ kind: 'document-embargoed', patient, recipient: patient, about: [`DocumentReference/${doc.id}`], text: TEXTS.embargoed, id }, { ...deps, now: ctx.now });
            try {
              await deps.store.commit([{ record, expect: { kind: 'absent' } }]);
              notified++;
            } catch (e) {
              if (!(e instanceof StoreConflict)) throw e;
            }
          }
        }
        if (records.length < PAGE) break;
      }
      ctx.log.info({ notified }, 'embargoed documents notified');
      return { notified };
    },
  };
}
