import { describe, expect, it } from 'vitest';
import { buildRecord } from '../interactions/records.js';
import { registry } from '../search/test-helpers.js';
import type { Resource } from '../fhir/resource-types.js';
import { readConsent } from './consent.js';
import { ACCESS_DERIVATION, consentFactsOf, lookedUp } from './lookup.js';
import { noticeRecord, onceId, TEXTS } from '../notify/notice.js';
import type { CurrentRecord, LookupHit } from '../store/store.js';

const who = (r: string) => ({ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PRCP' }] }, reference: { reference: r, display: 'Dr' } });
const doc = (id: string) => ({ meaning: 'instance', reference: { reference: `DocumentReference/${id}`, display: 'CR' } });
const BTG = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG', display: 'break the glass' };
const NOW = Date.parse('2026-06-01T00:00:00Z');
const ctx = { now: () => new Date(NOW), registry: registry(), baseUrl: 'http://carnet.test/fhir' };
const entries = (resource: Record<string, unknown>, type = 'Consent', id = 'c1') =>
  ACCESS_DERIVATION.derive(buildRecord(resource as Resource, type, id, undefined, ctx));

const consent = (provision: Record<string, unknown>, status = 'active', patient = 'Patient/x') => ({
  resourceType: 'Consent',
  status,
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: { reference: patient },
  provision,
});

describe('the access lookup entries (src/access/lookup.ts)', () => {
  const shapes: Array<[string, Record<string, unknown>, string[]]> = [
    ['a permit', { type: 'permit', actor: [who('Practitioner/a')] }, ['Patient/x|Practitioner/a']],
    ['a block', { type: 'deny', actor: [who('PractitionerRole/r')] }, ['Patient/x|PractitionerRole/r']],
    ['a mask for everyone', { type: 'deny', data: [doc('d1')] }, ['Patient/x|*']],
    ['an opposition to emergency access', { type: 'deny', purpose: [BTG] }, ['Patient/x|*']],
    ['a mask for one professional, for a period', { type: 'deny', actor: [who('Practitioner/a')], data: [doc('d1')], period: { start: '2026-01-01', end: '2026-12' } }, ['Patient/x|Practitioner/a']],
    ['a permit with nested denies', { type: 'permit', actor: [who('Practitioner/a')], provision: [{ type: 'deny', data: [doc('d2')] }, { type: 'deny', actor: [who('Practitioner/b')], period: { end: '2025-01-01' } }] }, ['Patient/x|*', 'Patient/x|Practitioner/a', 'Patient/x|Practitioner/b']],
    ['a deny whose nested provision takes its type', { type: 'deny', provision: [{ provision: [{ actor: [who('Practitioner/c')], purpose: [BTG] }] }] }, ['Patient/x|*', 'Patient/x|Practitioner/c']],
    ['an actor that is not a local reference', { type: 'permit', actor: [who('https://elsewhere.example/fhir/Practitioner/a')] }, []],
    [
      'purposes of other systems, a provision of no known type, nested values that are not provisions',
      { type: 'other', actor: [who('Practitioner/a'), { reference: {} }], purpose: [{ system: 'urn:x', code: 'BTG' }, { code: 'BTG' }, null], provision: [null, 'x', { type: 'deny', data: [doc('d3'), {}] }] },
      ['Patient/x|*', 'Patient/x|Practitioner/a'],
    ],
  ];
  for (const [name, provision, keys] of shapes) {
    it(`${name}: the keys, and a value readConsent reads as the Consent itself, at any time`, () => {
      // The patient as a relative reference (the key's), or absolute (kept in the value).
      for (const [status, patient] of [['active', 'Patient/x'], ['inactive', 'Patient/x'], ['active', 'http://carnet.test/fhir/Patient/x']]) {
        const resource = consent(provision, status, patient);
        const found = entries(resource);
        expect(found.map((e) => e.key).sort()).toEqual(keys);
        for (const { key, value } of found) {
          for (const at of ['2024-06-01', '2026-06-01', '2027-06-01']) {
            const now = Date.parse(at);
            expect(consentFactsOf(key.slice(0, key.indexOf('|')), value, now), `${status} at ${at}`).toEqual(readConsent(resource as Resource, now));
          }
        }
      }
    });
  }

  it("a patient's médecin traitant, and nothing for a patient without one", () => {
    expect(entries({ resourceType: 'Patient', generalPractitioner: [{ reference: 'Practitioner/g' }, { reference: 'PractitionerRole/gr' }] }, 'Patient', 'x')).toEqual([
      { key: 'Patient/x|*', value: ['Practitioner/g', 'PractitionerRole/gr'] },
    ]);
    expect(entries({ resourceType: 'Patient' }, 'Patient', 'x')).toEqual([]);
  });

  it('a message the patient wrote gives its documents to each recipient; one a professional wrote gives nothing', () => {
    const message = {
      resourceType: 'Communication',
      status: 'completed',
      subject: { reference: 'Patient/x' },
      sender: { reference: 'Patient/x' },
      recipient: [{ reference: 'Practitioner/a' }, { reference: 'Organization/o' }],
      payload: [{ contentReference: { reference: 'DocumentReference/d1' } }, { contentString: 'bonjour' }],
    };
    const record = (writer: string) => ({ ...buildRecord(message as Resource, 'Communication', 'm1', undefined, ctx), by: [writer] });
    expect(ACCESS_DERIVATION.derive(record('Patient/x'))).toEqual([
      { key: 'Patient/x|Practitioner/a', value: { patient: 'Patient/x', documents: ['DocumentReference/d1'] } },
      { key: 'Patient/x|Organization/o', value: { patient: 'Patient/x', documents: ['DocumentReference/d1'] } },
    ]);
    expect(ACCESS_DERIVATION.derive(record('Practitioner/a'))).toEqual([]);
  });

  it("the notice of a professional's first access has a key that only it gives, and the facts read by key say it is stored", async () => {
    const first = (patient: string, professional: string, id = onceId('first-access', patient, professional)) =>
      noticeRecord({ kind: 'first-access', patient, recipient: patient, about: ['AuditEvent/e1', professional], text: TEXTS.firstAccess, id }, ctx);
    const records: CurrentRecord[] = [
      first('Patient/x', 'Practitioner/a'),
      first('Patient/y', 'PractitionerRole/r'),
      // Not under the id the notifier gives that first access: someone else's Communication, nothing known from it.
      first('Patient/z', 'Practitioner/a', 'n-forged'),
      // Another kind of notice about the same professional.
      noticeRecord({ kind: 'emergency-access', patient: 'Patient/z', recipient: 'Patient/z', about: ['Practitioner/a'], text: TEXTS.emergency, id: onceId('first-access', 'Patient/z', 'Practitioner/a') }, ctx),
      buildRecord(consent({ type: 'permit', actor: [who('Practitioner/a')] }) as Resource, 'Consent', 'c1', undefined, ctx),
    ];
    const table = records.flatMap((r) => ACCESS_DERIVATION.derive(r).map(({ key, value }) => ({ key, type: r.type, id: r.id, value })));
    // Under keys of their own, which only they give: the journal appends them without reading the key.
    expect(table.filter((e) => e.type === 'Communication').map((e) => e.key)).toEqual(['Patient/x|Practitioner/a|first-access', 'Patient/y|PractitionerRole/r|first-access']);
    expect(records.flatMap((r) => ACCESS_DERIVATION.derive(r)).filter((e) => e.sole).map((e) => e.key)).toEqual(['Patient/x|Practitioner/a|first-access', 'Patient/y|PractitionerRole/r|first-access']);
    const lookup = async (keys: string[]): Promise<LookupHit[]> => table.filter((e) => keys.includes(e.key));
    const facts = await lookedUp(lookup, ['Patient/x', 'Patient/y', 'Patient/z'], ['Practitioner/a', 'PractitionerRole/r'], undefined, NOW);
    // The notices the notifier would look for: those naming the practitioner, whichever role the token names.
    expect(facts.seen).toEqual(['Patient/x|Practitioner/a']);
    // The notice is not taken for a Consent naming the professional.
    expect(facts.naming).toHaveLength(1);
    // A role with no practitioner is noticed as itself.
    expect((await lookedUp(lookup, ['Patient/x', 'Patient/y'], ['PractitionerRole/r'], undefined, NOW)).seen).toEqual(['Patient/y|PractitionerRole/r']);
    expect((await lookedUp(lookup, ['Patient/x'], ['Practitioner/b'], undefined, NOW)).seen).toEqual([]);
  });

  it("one key per reference: a patient's message and the Consents under the same key, and the notice, each count for what they are", async () => {
    const message = {
      resourceType: 'Communication',
      status: 'completed',
      subject: { reference: 'Patient/x' },
      recipient: [{ reference: 'Practitioner/a' }, { reference: 'Organization/o' }],
      payload: [{ contentReference: { reference: 'DocumentReference/d1' } }],
    };
    const records: CurrentRecord[] = [
      { ...buildRecord(message as Resource, 'Communication', 'm1', undefined, ctx), by: ['Patient/x'] },
      noticeRecord({ kind: 'first-access', patient: 'Patient/x', recipient: 'Patient/x', about: ['Practitioner/a'], text: TEXTS.firstAccess, id: onceId('first-access', 'Patient/x', 'Practitioner/a') }, ctx),
      buildRecord(consent({ type: 'permit', actor: [who('Practitioner/a')] }) as Resource, 'Consent', 'c1', undefined, ctx),
      // A Consent naming the organization the professional reads the messages of: not a Consent naming them.
      buildRecord(consent({ type: 'permit', actor: [who('Organization/o')] }) as Resource, 'Consent', 'c2', undefined, ctx),
      buildRecord({ resourceType: 'Patient', generalPractitioner: [{ reference: 'Practitioner/a' }] } as Resource, 'Patient', 'x', undefined, ctx),
      buildRecord(consent({ type: 'deny', data: [doc('d2')] }) as Resource, 'Consent', 'c3', undefined, ctx),
    ];
    const table = records.flatMap((r) => ACCESS_DERIVATION.derive(r).map(({ key, value }) => ({ key, type: r.type, id: r.id, value })));
    const asked: string[][] = [];
    const lookup = async (keys: string[]): Promise<LookupHit[]> => (asked.push(keys), table.filter((e) => keys.includes(e.key)));
    const facts = await lookedUp(lookup, ['Patient/x'], ['Practitioner/a'], ['Practitioner/a', 'Organization/o'], NOW);
    expect(asked).toEqual([['Patient/x|Practitioner/a', 'Patient/x|Organization/o', 'Patient/x|*', 'Patient/x|Practitioner/a|first-access']]);
    expect(facts.naming.map((c) => c.provisions.map((p) => p.type))).toEqual([['permit']]);
    expect(facts.gp).toEqual(['Patient/x']);
    expect(facts.seen).toEqual(['Patient/x|Practitioner/a']);
    expect(facts.shared).toEqual([['Patient/x', 'DocumentReference/d1']]);
    expect((await facts.denies(new Set(['Patient/x']))).map((c) => c.provisions[0]!.type).sort()).toEqual(['deny', 'permit']);
    // Without the messages (a request that reads no document), none are shared.
    expect((await lookedUp(lookup, ['Patient/x'], ['Practitioner/a'], undefined, NOW)).shared).toEqual([]);
  });
});
