import type { Resource } from '../fhir/resource-types.js';
import { isServedType } from '../fhir/resource-types.js';
import type { CurrentRecord } from '../store/store.js';
import { GLOBAL_TAG } from './chain.js';
import { auditEvent, requestEntity, SYSTEMS, type Agent, type Entity } from './event.js';
import type { Journal } from './journal.js';

/** What is known of a request refused for want of a valid token (a 401). Never the token itself. */
export interface Refusal {
  /** The source address of the request. */
  address: string;
  userAgent?: string;
  /** The request's path, without its query string. */
  path: string;
  /** The interaction attempted, when the route says it. */
  interaction?: string;
  /** The resource type the path names, if any. */
  type?: string;
  /** The 401's diagnostics: missing token, bad signature, expired, not an access token... */
  reason: string;
  requestId: string;
}

/**
 * What an anonymous flood may cost the store. Time goes in intervals (the first begins with a
 * refusal, and each ends `intervalMs` later or at the first refusal after that): in each, the first
 * refusal of a source address has its own AuditEvent, durable before its 401 leaves; the address's
 * further refusals are counted, and one AuditEvent per address carries their count when the
 * interval ends. Past `maxSources` addresses in one interval, the refusals of further ones are
 * counted together into one event. So an interval writes at most 2 x maxSources + 1 events,
 * however many requests and addresses the flood uses, and keeps as many addresses in memory.
 */
export interface RefusalPolicy {
  intervalMs: number;
  maxSources: number;
}

export const REFUSAL_POLICY: RefusalPolicy = { intervalMs: 60_000, maxSources: 100 };

/** Extension of a 401's AuditEvent: how many refused requests it stands for. */
export const REFUSALS_URL = 'urn:carnet:audit-refusals';

/** What the CapabilityStatement says of the AuditEvents of 401s (capabilities.ts). */
export const REFUSALS_DOCUMENTATION =
  `A request refused for want of a valid token (401) is recorded under no patient, in the global hash chains ($verify without patient): per source address, ` +
  `the first 401 of each ${REFUSAL_POLICY.intervalMs / 1000} s interval has its own AuditEvent, the others of the interval one more AuditEvent carrying their count ` +
  `(extension ${REFUSALS_URL}); past ${REFUSAL_POLICY.maxSources} addresses in an interval, the 401s of the others are counted into one AuditEvent. Kept as long as reads.`;

/** What is kept of what the caller chose to send. */
const MAX_USER_AGENT = 256;
const MAX_PATH = 512;
const MAX_REASON = 300;
const MAX_REASONS = 5;

export interface RefusalRecorder {
  /** Resolves once the refusal is recorded: its event durable, or counted into its interval's. */
  record(refusal: Refusal): Promise<void>;
  /** Ends the current interval: writes its counts now (at close; tests). */
  flush(): Promise<void>;
}

export interface RefusalRecorderDeps {
  journal: Journal;
  now: () => Date;
  /** The stored record of an event carnet records. */
  build: (resource: Resource) => CurrentRecord;
  policy?: RefusalPolicy;
  /** Told when the counts of an interval ended by its timer could not be written. */
  onError?: (err: unknown) => void;
}

/** The refusals counted for one address (or the addresses past maxSources) in an interval. */
interface Count {
  count: number;
  last: Refusal;
  reasons: Set<string>;
}

interface Interval {
  start: Date;
  /** Every address recorded in the interval; its count once it was refused again. */
  sources: Map<string, Count | undefined>;
  others?: Count;
}

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s);

/** The AuditEvent of one refusal (count 1), or of the count of an address's (or others') in an interval. */
function refusalEvent(r: Refusal, recorded: Date, counted?: { count: number; reasons: string[]; start: Date; others: boolean }): Resource {
  const user: Agent = counted?.others
    ? { who: { display: 'unauthenticated callers from other addresses' } }
    : { who: { display: 'unauthenticated caller' }, network: { address: clip(r.address, 64), type: '2' } };
  const entities: Entity[] = [
    { type: { system: SYSTEMS.entityType, code: '4', display: 'Other' }, name: clip(r.path, MAX_PATH), description: counted ? 'request path (the last refused in the interval)' : 'request path' },
    // The type only: a reference to what the path names would file the event under a patient.
    ...(r.type && isServedType(r.type) ? [{ type: { system: SYSTEMS.resourceTypes, code: r.type } }] : []),
    requestEntity(r.requestId),
  ];
  const event = auditEvent({
    interaction: r.interaction,
    status: 401,
    failure: counted ? counted.reasons.join('; ') : clip(r.reason, MAX_REASON),
    recorded: recorded.toISOString(),
    user,
    entities,
  });
  const agents = event.agent as unknown[];
  if (r.userAgent && !counted?.others) {
    agents.splice(1, 0, {
      type: { coding: [{ system: SYSTEMS.dicom, code: '110150', display: 'Application' }] },
      who: { display: clip(r.userAgent, MAX_USER_AGENT) },
      requestor: false,
    });
  }
  return {
    ...event,
    meta: { tag: [GLOBAL_TAG] },
    extension: [{ url: REFUSALS_URL, valuePositiveInt: counted?.count ?? 1 }],
    ...(counted ? { period: { start: counted.start.toISOString(), end: recorded.toISOString() } } : {}),
  };
}

export function createRefusalRecorder(deps: RefusalRecorderDeps): RefusalRecorder {
  const policy = deps.policy ?? REFUSAL_POLICY;
  let interval: Interval | undefined;
  let timer: NodeJS.Timeout | undefined;

  /** Ends the interval: the events of its counts. */
  const end = (): CurrentRecord[] => {
    clearTimeout(timer);
    timer = undefined;
    const ended = interval;
    interval = undefined;
    if (!ended) return [];
    const now = deps.now();
    const counted = [...ended.sources.values()].flatMap((c) => (c ? [{ c, others: false }] : []));
    if (ended.others) counted.push({ c: ended.others, others: true });
    return counted.map(({ c, others }) => deps.build(refusalEvent(c.last, now, { count: c.count, reasons: [...c.reasons], start: ended.start, others })));
  };

  const flush = () => deps.journal.append(end());

  const count = (c: Count | undefined, r: Refusal): Count => {
    const out = c ?? { count: 0, last: r, reasons: new Set<string>() };
    out.count++;
    out.last = r;
    if (out.reasons.size < MAX_REASONS) out.reasons.add(clip(r.reason, MAX_REASON));
    return out;
  };

  return {
    flush,
    record(r) {
      const now = deps.now();
      const records = interval && now.getTime() - interval.start.getTime() >= policy.intervalMs ? end() : [];
      if (!interval) {
        interval = { start: now, sources: new Map() };
        timer = setTimeout(() => flush().catch((err: unknown) => deps.onError?.(err)), policy.intervalMs);
        timer.unref();
      }
      const current = interval;
      let first = false;
      if (current.sources.has(r.address)) current.sources.set(r.address, count(current.sources.get(r.address), r));
      else if (current.sources.size >= policy.maxSources) current.others = count(current.others, r);
      else {
        current.sources.set(r.address, undefined);
        records.push(deps.build(refusalEvent(r, now)));
        first = true;
      }
      return deps.journal.append(records).catch((err: unknown) => {
        // Not recorded (its answer says so, 503): the address's next 401 tries again.
        if (first && current.sources.get(r.address) === undefined) current.sources.delete(r.address);
        throw err;
      });
    },
  };
}
