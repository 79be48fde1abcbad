import { hash, randomUUID } from 'node:crypto';
import type { Resource } from '../fhir/resource-types.js';
import type { CurrentRecord } from '../store/store.js';

/**
 * Tamper evidence: the events of each patient form hash chains. Per patient, because a patient's
 * history is what is read and checked, because one chain for the whole server would make every
 * request wait on every other, and because erasing one patient's events then leaves every other
 * chain whole. Each server process starts its own chains per patient (`chain`, new at every start):
 * processes never share a head, so concurrent workers never fork a chain, and no head is read back
 * from the store. Reads and writes go in separate chains (retention.ts keeps them for different
 * times, and removes only the oldest links of a chain). A link: the patient, the chain, its position
 * (from 1), the hash of the previous link, and its own hash over all of these and the event's content.
 *
 * Beside the events, the store's state keeps per chain its head (heads.ts, written shortly after
 * each commit: a chain that ends before its head lost its last events) and, once retention removed
 * its first links, the last link removed (the cut: the chain resumes from it).
 *
 * The events of requests refused for want of a valid token (unauthenticated.ts) are filed under no
 * patient: they go in the global chains instead (owner GLOBAL, `scope` global in the link, tagged
 * GLOBAL_TAG so that $verify finds them without reading every event), as reads.
 */
export const CHAIN_URL = 'urn:carnet:audit-chain';
/** The owner of the global chains, in place of a patient (never a reference: nothing resolves it). */
export const GLOBAL = 'global';
/** meta.tag of the events linked in the global chains. */
export const GLOBAL_TAG = { system: CHAIN_URL, code: GLOBAL, display: 'Global chain' };

interface Link {
  patient: string;
  chain: string;
  seq: number;
  previous: string;
  hash: string;
}

const sha256 = (s: string) => hash('sha256', s, 'hex');

/** The recursive writer: each object's keys sorted, at every level. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const INTEGER_KEY = /^(?:0|[1-9]\d*)$/;
const ORDERED_BY_INDEX = Symbol('integer-like keys');

/** Whether every object's keys, at every level, already come in code-unit order. */
function inOrder(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (!inOrder(v)) return false;
    return true;
  }
  let previous: string | undefined;
  for (const k of Object.keys(value)) {
    if (previous !== undefined && !(previous < k)) return false;
    if (!inOrder((value as Record<string, unknown>)[k])) return false;
    previous = k;
  }
  return true;
}

/**
 * JSON with every object's keys in code-unit order, whatever order the store gives them back in.
 * A value already in that order (the events carnet builds are, and come back so) is plain
 * JSON.stringify, which writes keys in the same order Object.keys gives them: about a third of the
 * time of a replacer. Otherwise JSON.stringify with a replacer that reorders only the objects out
 * of order, in half the time of the recursive writer (sortedJson), and the same text. An object
 * with an integer-like key (none in FHIR) cannot be reordered so (JavaScript puts those keys
 * first): the recursive writer answers.
 */
export function canonical(value: unknown): string {
  if (inOrder(value)) return JSON.stringify(value);
  try {
    return JSON.stringify(value, (_key: string, v: unknown) => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
      const keys = Object.keys(v);
      if (keys.every((k, i) => i === 0 || keys[i - 1] < k)) return v;
      if (keys.some((k) => INTEGER_KEY.test(k))) throw ORDERED_BY_INDEX;
      return sortedCopy(v as Record<string, unknown>, keys);
    });
  } catch (e) {
    if (e !== ORDERED_BY_INDEX) throw e;
    return sortedJson(value);
  }
}

/** The same members in code-unit order of their keys; no prototype, so a key `__proto__` is a key like the others. */
function sortedCopy(v: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const sorted = Object.create(null) as Record<string, unknown>;
  for (const k of keys.sort()) sorted[k] = v[k];
  return sorted;
}

/**
 * The top level of a stored resource in key order: its `id` and `meta` come after the members the
 * event was built with. Its nested objects are left as they are (carnet builds them in order).
 */
function topInOrder(v: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(v);
  if (keys.every((k, i) => i === 0 || keys[i - 1] < k) || keys.some((k) => INTEGER_KEY.test(k))) return v;
  return sortedCopy(v, keys);
}

/** What a link vouches for: the event as stored, but its meta and its own links. */
function contentOf(resource: Resource): string {
  const { meta: _meta, extension, ...rest } = resource;
  const others = ((extension as Array<{ url?: string }> | undefined) ?? []).filter((e) => e.url !== CHAIN_URL);
  return sha256(canonical(topInOrder(others.length ? { ...rest, extension: others } : rest)));
}

const hashOf = (l: Omit<Link, 'hash'>, content: string) => sha256([l.patient, l.chain, String(l.seq), l.previous, content].join('\n'));

const toExtension = (l: Link) => ({
  url: CHAIN_URL,
  extension: [
    l.patient === GLOBAL ? { url: 'scope', valueCode: GLOBAL } : { url: 'patient', valueReference: { reference: l.patient } },
    { url: 'chain', valueString: l.chain },
    { url: 'seq', valuePositiveInt: l.seq },
    // The first link of a chain has no previous hash (FHIR has no empty strings).
    ...(l.previous ? [{ url: 'previous', valueString: l.previous }] : []),
    { url: 'hash', valueString: l.hash },
  ],
});

function linksOf(resource: Resource): Link[] {
  const out: Link[] = [];
  for (const e of (resource.extension as Array<{ url?: string; extension?: Array<Record<string, unknown>> }> | undefined) ?? []) {
    if (e.url !== CHAIN_URL) continue;
    const part = (name: string) => e.extension?.find((x) => x.url === name);
    out.push({
      patient: part('scope')?.valueCode === GLOBAL ? GLOBAL : String((part('patient')?.valueReference as { reference?: string } | undefined)?.reference ?? ''),
      chain: String(part('chain')?.valueString ?? ''),
      seq: Number(part('seq')?.valuePositiveInt ?? 0),
      previous: String(part('previous')?.valueString ?? ''),
      hash: String(part('hash')?.valueString ?? ''),
    });
  }
  return out;
}

export interface Chainer {
  /**
   * Links each record into the chain of each of its patients (or the global one), after whatever
   * was linked before, written yet or not; the heads are reported (onMoved) on commit(), once the
   * records are durable.
   */
  link(records: CurrentRecord[]): { commit(): void };
  /**
   * After records linked here could not be written: what is linked next starts new chains, so that
   * none continues from a link that does not exist. Records already linked after the lost ones, and
   * written, leave a gap in their chain that $verify reports (events missing before them): their
   * requests were answered 503.
   */
  restart(): void;
}

/** Where a chain's head or cut is kept in the store's state: `audit-head:Patient/x|<chain>` (`audit-head:global|<chain>`). */
export const headKey = (patient: string, chain: string) => `audit-head:${patient}|${chain}`;
export const cutKey = (patient: string, chain: string) => `audit-cut:${patient}|${chain}`;
/** The prefixes of one patient's heads and cuts (the `|` keeps Patient/x1 out of Patient/x). */
export const headPrefix = (patient: string) => `audit-head:${patient}|`;
export const cutPrefix = (patient: string) => `audit-cut:${patient}|`;

export interface Position {
  seq: number;
  hash: string;
}

/** Reads (read, search, operations: action R or E, and denials) or writes (C, U, D): kept for different times. */
export type EventClass = 'reads' | 'writes';
/** Whether an event goes in the global chains: one recorded with GLOBAL_TAG. */
export const isGlobal = (resource: Resource): boolean =>
  ((resource.meta as { tag?: Array<{ system?: string; code?: string }> } | undefined)?.tag ?? []).some((t) => t.system === GLOBAL_TAG.system && t.code === GLOBAL_TAG.code);
/** An event of the global chains is a refusal before any access (a 401): kept as a read, whatever was attempted. */
export const classOf = (resource: Resource): EventClass =>
  ['C', 'U', 'D'].includes(resource.action as string) && !isGlobal(resource) ? 'writes' : 'reads';

/** The links of an event, for retention: its chains and positions. */
export const chainLinksOf = (resource: Resource): Array<{ patient: string; chain: string } & Position> => linksOf(resource);

export function createChainer(onMoved?: (heads: Map<string, Position>) => void): Chainer {
  let chains: Record<EventClass, string> = { reads: randomUUID(), writes: randomUUID() };
  const heads = new Map<string, Position>();
  return {
    restart() {
      chains = { reads: randomUUID(), writes: randomUUID() };
      heads.clear();
    },
    link(records) {
      const moved = new Map<string, Position>();
      for (const record of records) {
        const resource = record.resource!;
        const content = contentOf(resource);
        const chain = chains[classOf(resource)];
        const links: Link[] = [];
        // An event filed under no patient that belongs to the global chains (never both).
        const owners = record.comp.length === 0 && isGlobal(resource) ? [GLOBAL] : record.comp;
        for (const patient of owners) {
          const key = headKey(patient, chain);
          const head = moved.get(key) ?? heads.get(key) ?? { seq: 0, hash: '' };
          const l = { patient, chain, seq: head.seq + 1, previous: head.hash };
          const link = { ...l, hash: hashOf(l, content) };
          moved.set(key, { seq: link.seq, hash: link.hash });
          links.push(link);
        }
        if (links.length) resource.extension = [...((resource.extension as unknown[]) ?? []), ...links.map(toExtension)];
      }
      // The next records link after these at once: several commits may be on their way together.
      moved.forEach((h, k) => heads.set(k, h));
      return {
        commit: () => {
          if (moved.size) onMoved?.(moved);
        },
      };
    },
  };
}

export interface Verification {
  ok: boolean;
  checked: number;
  /** The first break found: the event (when one is left to name), its chain, and what is wrong. */
  broken?: { event?: string; chain: string; reason: string };
}

/** What the state says of one patient's chains (or the global ones), by chain id. */
export interface ChainState {
  heads: Map<string, Position>;
  cuts: Map<string, Position>;
}

/**
 * Checks every chain of one patient (or GLOBAL) over their events (in any order): from its cut (or its start)
 * each link follows the one before, each event matches its hash, and the chain reaches its head.
 * Links at or before the cut are retention's, removed or about to be: they are not checked.
 */
export function verifyChains(patient: string, events: Resource[], state: ChainState = { heads: new Map(), cuts: new Map() }): Verification {
  const chains = new Map<string, Array<{ link: Link; event: Resource }>>();
  for (const id of [...state.heads.keys(), ...state.cuts.keys()]) chains.set(id, []);
  for (const event of events) {
    for (const link of linksOf(event)) {
      if (link.patient !== patient) continue;
      const list = chains.get(link.chain) ?? [];
      list.push({ link, event });
      chains.set(link.chain, list);
    }
  }
  let checked = 0;
  let broken: Verification['broken'];
  const found = (chain: string, event: Resource | undefined, reason: string) => {
    broken ??= { ...(event ? { event: `AuditEvent/${event.id}` } : {}), chain, reason };
  };
  for (const [chain, all] of chains) {
    const cut = state.cuts.get(chain) ?? { seq: 0, hash: '' };
    const list = all.filter(({ link }) => link.seq > cut.seq).sort((a, b) => a.link.seq - b.link.seq);
    let previous = cut.hash;
    list.forEach(({ link, event }, i) => {
      checked++;
      const expected = cut.seq + i + 1;
      if (link.seq !== expected) found(chain, event, `position ${link.seq} where ${expected} was expected: events are missing before it`);
      else if (link.previous !== previous) found(chain, event, 'its link to the previous event does not match');
      else if (hashOf(link, contentOf(event)) !== link.hash) found(chain, event, 'its content does not match its hash');
      previous = link.hash;
    });
    const last = list.at(-1);
    const head = state.heads.get(chain);
    const end = last?.link.seq ?? cut.seq;
    if (head && end < head.seq) found(chain, last?.event, `the chain ends at position ${end} but its head is at ${head.seq}: its last events are missing`);
    else if (head && last && last.link.seq === head.seq && last.link.hash !== head.hash) found(chain, last.event, 'the last event does not match the head of its chain');
  }
  return { ok: broken === undefined, checked, ...(broken ? { broken } : {}) };
}
