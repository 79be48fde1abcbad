import { fhirError } from '../errors.js';
import type { VersionRecord } from '../store/store.js';
import { bundle, countParam, decodeCursor, encodeCursor, pageUrl, single, type BundleEntry, type BundleLink } from './bundle.js';
import { presentInBundle } from './binary.js';
import { canSee, etag, unknown, versionVisible } from './records.js';
import type { Context, FhirRequest, InteractionHandler } from './types.js';

/** The versions of one resource read at once to judge each (a resource has far fewer in practice). */
const INSTANCE_VERSIONS = 100_000;

interface HistoryCursor {
  at: string;
  offset: number;
}

const isCursor = (v: any): v is HistoryCursor => typeof v?.at === 'string' && Number.isInteger(v?.offset) && v.offset >= 0;

function parseInstant(value: string, name: string): string {
  // FHIR instant: full date and time with a timezone.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw fhirError('bad-search', `${name} must be an instant like 2026-01-31T10:00:00Z, got "${value}"`, name);
  }
  return new Date(value).toISOString();
}

function entry(v: VersionRecord, ctx: Context): BundleEntry {
  const url = `${v.type}/${v.id}`;
  const method = v.deleted ? 'DELETE' : v.versionId === 1 ? 'POST' : 'PUT';
  return {
    fullUrl: `${ctx.baseUrl}/${url}`,
    ...(v.resource ? { resource: presentInBundle(v.resource) } : {}),
    request: { method, url: method === 'POST' ? v.type : url },
    response: {
      status: v.deleted ? '204' : v.versionId === 1 ? '201' : '200',
      etag: etag(v.versionId),
      // Bundle.entry.response.lastModified is an instant, not the HTTP date of the header.
      lastModified: new Date(v.lastUpdated).toISOString(),
    },
  };
}

export const history: InteractionHandler = {
  name: 'history-system',
  traits: { readOnly: true, needsType: false },
  async handle(req: FhirRequest, ctx: Context) {
    const { type, id } = req;
    if (id === undefined && ctx.facts.actor.kind !== 'system') {
      // Old versions carry no search data to filter on inside the query: type and system history
      // are for system clients; a user asks for one resource's history.
      throw fhirError('forbidden', 'Type and system history are available to system clients only; ask for one resource\'s history');
    }
    const { count } = countParam(req.query, ctx.defaultCount, ctx.maxCount);
    const page = single(req.query, '_page');
    const cursor = page ? decodeCursor(page, isCursor) : { at: ctx.now().toISOString(), offset: 0 };
    const sinceRaw = single(req.query, '_since');
    const since = sinceRaw !== undefined ? parseInstant(sinceRaw, '_since') : undefined;
    const atRaw = single(req.query, '_at');
    const at = atRaw !== undefined && !page ? parseInstant(atRaw, '_at') : cursor.at;

    let records: VersionRecord[];
    let total: number;
    if (id !== undefined) {
      const current = await ctx.store.read(type!, id);
      if (!current || !(await canSee(current, ctx))) throw unknown(type!, id);
      // Every version is judged on its own content: the page and the total count only those the caller may see.
      const all = await ctx.store.history({ type, id, since, at, offset: 0, limit: INSTANCE_VERSIONS });
      const visible = ctx.facts.actor.kind === 'system' ? all.records : all.records.filter((v) => versionVisible(v, current, ctx));
      records = visible.slice(cursor.offset, cursor.offset + count);
      total = visible.length;
    } else {
      ({ records, total } = await ctx.store.history({ type, since, at, offset: cursor.offset, limit: count }));
    }
    const path = `/${[type, id, '_history'].filter(Boolean).join('/')}`;
    const keep = { _since: sinceRaw, _count: String(count) };
    const link: BundleLink[] = [{ relation: 'self', url: pageUrl(ctx.baseUrl, path, { ...keep, ...(page ? { _page: page } : {}) }) }];
    if (cursor.offset + records.length < total) {
      link.push({ relation: 'next', url: pageUrl(ctx.baseUrl, path, { ...keep, _page: encodeCursor({ at, offset: cursor.offset + count }) }) });
    }
    if (cursor.offset > 0) {
      link.push({ relation: 'previous', url: pageUrl(ctx.baseUrl, path, { ...keep, _page: encodeCursor({ at, offset: Math.max(0, cursor.offset - count) }) }) });
    }
    const result = bundle('history', records.map((r) => entry(r, ctx)), { total, link, now: ctx.now() });
    return { status: 200, body: result };
  },
};
