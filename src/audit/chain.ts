import { createHash, randomUUID } from 'node:crypto';
import type { Resource } from '../fhir/resource-types.js';
import type { CurrentRecord } from '../store/store.js';

/**
 * Tamper evidence: the events of each patient form hash chains. Per patient, because a patient's
 * history is what is read and checked, and because one chain for the whole server would make every
 * request wait on every other. Each server process starts its own chain per patient (`chain`, new
 * at every start): processes never share a head, so concurrent workers never fork a chain, and no
 * head is read back from the store. A link: the patient, the chain, its position (from 1), the hash
 * of the previous link, and its own hash over all of these and the event's content.
 */
export const CHAIN_URL = 'urn:carnet:audit-chain';

interface Link {
  patient: string;
  chain: string;
  seq: number;
  previous: string;
  hash: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What a link vouches for: the event as stored, but its meta and its own links. */
function contentOf(resource: Resource): string {
  const { meta: _meta, extension, ...rest } = resource;
  const others = ((extension as Array<{ url?: string }> | undefined) ?? []).filter((e) => e.url !== CHAIN_URL);
  return sha256(canonical(others.length ? { ...rest, extension: others } : rest));
}

const hashOf = (l: Omit<Link, 'hash'>, content: string) => sha256([l.patient, l.chain, String(l.seq), l.previous, content].join('\n'));

const toExtension = (l: Link) => ({
  url: CHAIN_URL,
  extension: [
    { url: 'patient', valueReference: { reference: l.patient } },
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
      patient: String((part('patient')?.valueReference as { reference?: string } | undefined)?.reference ?? ''),
      chain: String(part('chain')?.valueString ?? ''),
      seq: Number(part('seq')?.valuePositiveInt ?? 0),
      previous: String(part('previous')?.valueString ?? ''),
      hash: String(part('hash')?.valueString ?? ''),
    });
  }
  return out;
}

export interface Chainer {
  /** Links each record into the chain of each of its patients; the heads move only on commit(). */
  link(records: CurrentRecord[]): { commit(): void };
}

export function createChainer(): Chainer {
  const chain = randomUUID();
  const heads = new Map<string, { seq: number; hash: string }>();
  return {
    link(records) {
      const moved = new Map<string, { seq: number; hash: string }>();
      for (const record of records) {
        const resource = record.resource!;
        const content = contentOf(resource);
        const links: Link[] = [];
        for (const patient of record.comp) {
          const head = moved.get(patient) ?? heads.get(patient) ?? { seq: 0, hash: '' };
          const l = { patient, chain, seq: head.seq + 1, previous: head.hash };
          const link = { ...l, hash: hashOf(l, content) };
          moved.set(patient, { seq: link.seq, hash: link.hash });
          links.push(link);
        }
        if (links.length) resource.extension = [...((resource.extension as unknown[]) ?? []), ...links.map(toExtension)];
      }
      return { commit: () => moved.forEach((h, p) => heads.set(p, h)) };
    },
  };
}

export interface Verification {
  ok: boolean;
  checked: number;
  /** The first break found: the event, and what is wrong. */
  broken?: { event: string; reason: string };
}

/** Checks every chain of one patient over their events (in any order). */
export function verifyChains(patient: string, events: Resource[]): Verification {
  const chains = new Map<string, Array<{ link: Link; event: Resource }>>();
  let checked = 0;
  for (const event of events) {
    for (const link of linksOf(event)) {
      if (link.patient !== patient) continue;
      checked++;
      const list = chains.get(link.chain) ?? [];
      list.push({ link, event });
      chains.set(link.chain, list);
    }
  }
  let broken: Verification['broken'];
  const found = (event: Resource, reason: string) => {
    broken ??= { event: `AuditEvent/${event.id}`, reason };
  };
  for (const list of chains.values()) {
    list.sort((a, b) => a.link.seq - b.link.seq);
    let previous = '';
    list.forEach(({ link, event }, i) => {
      if (link.seq !== i + 1) found(event, `position ${link.seq} where ${i + 1} was expected: events are missing before it`);
      else if (link.previous !== previous) found(event, 'its link to the previous event does not match');
      else if (hashOf(link, contentOf(event)) !== link.hash) found(event, 'its content does not match its hash');
      previous = link.hash;
    });
  }
  return { ok: broken === undefined, checked, ...(broken ? { broken } : {}) };
}
