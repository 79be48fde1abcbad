import { fhirError } from '../../errors.js';
import { ID_PATTERN, isServedType } from '../../fhir/resource-types.js';
import { bundle, countParam, decodeCursor, encodeCursor, pageUrl, single, type BundleEntry, type BundleLink } from '../../interactions/bundle.js';
import { presentInBundle } from '../../interactions/binary.js';
import { readVisible } from '../../interactions/records.js';
import { dateRange } from '../../search/types/date.js';
import type { CurrentRecord } from '../../store/store.js';
import type { OperationHandler } from '../types.js';
import definition from './everything.json' with { type: 'json' };
import { createSelection, parseTypes, type Selection } from './selection.js';

/**
 * A page's position: the instant the first page pinned (nothing created after it appears) and the
 * last record given, as its place in the sequence of selection.ts (stream, type, id).
 */
interface EverythingCursor {
  at: string;
  s: number;
  t: string;
  i: string;
}

const isCursor = (v: any): v is EverythingCursor =>
  typeof v?.at === 'string' && !Number.isNaN(Date.parse(v.at)) && [0, 1, 2].includes(v.s) && typeof v.t === 'string' && isServedType(v.t) && typeof v.i === 'string' && ID_PATTERN.test(v.i);

const PARAMS = new Set(['start', 'end', '_since', '_type', '_count', '_page', '_format', '_pretty']);
const STREAMS = 3;

function parseDate(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}(-\d{2}(-\d{2})?)?$/.test(value) || !dateRange(value)) throw fhirError('bad-search', `${name} must be a date like 2026, 2026-03 or 2026-03-02, got "${value}"`, name);
  return value;
}

function parseInstant(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw fhirError('bad-search', `${name} must be an instant like 2026-01-31T10:00:00Z, got "${value}"`, name);
  }
  return new Date(value).toISOString();
}

/**
 * The records after the cursor, in the selection's order: at most `limit`. Asking one more than
 * the page tells whether a next page exists, so the last page is never empty.
 */
async function collect(selection: Selection, cursor: EverythingCursor | undefined, limit: number): Promise<Array<{ stream: number; record: CurrentRecord }>> {
  const out: Array<{ stream: number; record: CurrentRecord }> = [];
  for (let stream = cursor?.s ?? 0; stream < STREAMS && out.length < limit; stream++) {
    const after = cursor !== undefined && stream === cursor.s ? { type: cursor.t, id: cursor.i } : undefined;
    for (const record of await selection.read(stream, after, limit - out.length)) out.push({ stream, record });
  }
  return out;
}

export const everything: OperationHandler = {
  name: 'everything',
  definition,
  affectsState: false,
  async handle(req, ctx) {
    if (req.type !== 'Patient') throw fhirError('not-found', '$everything is served on Patient only');
    if (req.id === undefined && ctx.facts.actor.kind !== 'system') {
      throw fhirError('forbidden', 'Patient/$everything across patients is for system clients; ask for one patient: Patient/[id]/$everything');
    }
    for (const name of Object.keys(req.query)) {
      if (!PARAMS.has(name) && req.preferHandling === 'strict') throw fhirError('bad-search', `$everything does not take the parameter "${name}"`, name);
    }
    const start = parseDate(single(req.query, 'start'), 'start');
    const end = parseDate(single(req.query, 'end'), 'end');
    const since = parseInstant(single(req.query, '_since'), '_since');
    const only = parseTypes(single(req.query, '_type'));
    const { count } = countParam(req.query, ctx.defaultCount, ctx.maxCount);
    if (count < 1) throw fhirError('bad-search', '_count must be at least 1 for $everything', '_count');
    const page = single(req.query, '_page');
    const cursor = page !== undefined ? decodeCursor(page, isCursor) : undefined;
    const at = cursor?.at ?? ctx.now().toISOString();
    // Every page checks the patient again: one the caller may no longer see answers 404 as unknown.
    const patient = req.id !== undefined ? await readVisible(ctx, 'Patient', req.id) : undefined;

    const selection = createSelection(ctx, { patient: patient && `Patient/${patient.id}`, at, since, start, end, only });
    const found = await collect(selection, cursor, count + 1);
    const records = found.slice(0, count);

    const path = req.id !== undefined ? `/Patient/${req.id}/$everything` : '/Patient/$everything';
    const keep = { start, end, _since: single(req.query, '_since'), _type: single(req.query, '_type'), _count: String(count) };
    const link: BundleLink[] = [{ relation: 'self', url: pageUrl(ctx.baseUrl, path, { ...keep, _page: page }) }];
    if (found.length > count) {
      const last = records[records.length - 1];
      link.push({ relation: 'next', url: pageUrl(ctx.baseUrl, path, { ...keep, _page: encodeCursor({ at, s: last.stream, t: last.record.type, i: last.record.id }) }) });
    }
    const entries: BundleEntry[] = records.map(({ stream, record }) => ({
      fullUrl: `${ctx.baseUrl}/${record.type}/${record.id}`,
      resource: presentInBundle(record.resource!),
      search: { mode: stream < 2 ? 'match' : 'include' },
    }));
    return { status: 200, body: bundle('searchset', entries, { link, now: ctx.now() }) };
  },
};
