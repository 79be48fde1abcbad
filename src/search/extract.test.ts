import { describe, expect, it } from 'vitest';
import { compartmentsOf } from './extract.js';
import { ALL, allergy, appointment, bloodPressure, glucose, helene, paul, report } from './fixtures.js';
import { createSearchRegistry } from './registry.js';
import { recordOf } from './test-helpers.js';
import { dateRange, extract as extractDates, MAX_TIME, MIN_TIME } from './types/date.js';
import { normalizeString } from './types/string.js';

const entries = (r: ReturnType<typeof recordOf>, p: string) => r.idx.filter((e) => e.p === p);
const ms = (s: string) => Date.parse(s);

describe('normalizeString', () => {
  it('lower-cases, strips accents, spells ligatures and collapses spaces', () => {
    expect(normalizeString('  Hélène   LEFÈVRE ')).toBe('helene lefevre');
    expect(normalizeString('Œillets')).toBe('oeillets');
    expect(normalizeString('Ça\tva')).toBe('ca va');
  });
});

describe('dateRange', () => {
  it('covers the whole period of the precision', () => {
    expect(dateRange('2026')).toEqual([ms('2026-01-01T00:00:00Z'), ms('2027-01-01T00:00:00Z') - 1]);
    expect(dateRange('2026-03')).toEqual([ms('2026-03-01T00:00:00Z'), ms('2026-04-01T00:00:00Z') - 1]);
    expect(dateRange('2024-02-29')).toEqual([ms('2024-02-29T00:00:00Z'), ms('2024-03-01T00:00:00Z') - 1]);
    expect(dateRange('2026-03-01T10:00:00+01:00')).toEqual([ms('2026-03-01T09:00:00Z'), ms('2026-03-01T09:00:00Z') + 999]);
    expect(dateRange('2026-03-01T10:00:00.123Z')).toEqual([ms('2026-03-01T10:00:00.123Z'), ms('2026-03-01T10:00:00.123Z')]);
  });
  it('takes a dateTime without zone as UTC, and keeps years below 100', () => {
    expect(dateRange('2026-03-01T10:00:00')![0]).toBe(ms('2026-03-01T10:00:00Z'));
    expect(new Date(dateRange('0050')![0]).getUTCFullYear()).toBe(50);
  });
  it('refuses impossible dates', () => {
    for (const bad of ['2026-13', '2026-02-30', '2025-02-29', '2026-01-01T25:00:00Z', '26-01-01', '2026-1-1', 'now']) {
      expect(dateRange(bad), bad).toBeUndefined();
    }
  });
});

describe('date extraction', () => {
  it('reads Periods (open ends included) and Timing events', () => {
    expect(extractDates([{ type: 'Period', value: { end: '2026-03' } }])).toEqual([{ st: MIN_TIME, et: ms('2026-04-01T00:00:00Z') - 1 }]);
    expect(extractDates([{ type: 'Timing', value: { event: ['2026-03-01', '2026-03-08T09:00:00Z'] } }])).toEqual([
      { st: ms('2026-03-01T00:00:00Z'), et: ms('2026-03-02T00:00:00Z') - 1 },
      { st: ms('2026-03-08T09:00:00Z'), et: ms('2026-03-08T09:00:00Z') + 999 },
    ]);
    expect(extractDates([{ type: 'Timing', value: { repeat: { boundsPeriod: { start: '2026-01-01', end: '2026-12-31' } } } }])).toEqual([
      { st: ms('2026-01-01T00:00:00Z'), et: ms('2027-01-01T00:00:00Z') - 1 },
    ]);
    expect(extractDates([{ type: 'instant', value: '2026-03-01T10:00:00.5+02:00' }])).toEqual([{ st: ms('2026-03-01T08:00:00.500Z'), et: ms('2026-03-01T08:00:00.500Z') }]);
  });
});

describe('indexResource', () => {
  it('indexes a Patient: accented names, identifier with its type, compartment of its own', () => {
    const r = recordOf(helene);
    expect(entries(r, 'given')).toEqual([
      { p: 'given', v: 'helene', x: 'Hélène' },
      { p: 'given', v: 'marie', x: 'Marie' },
    ]);
    expect(entries(r, 'family')).toEqual([{ p: 'family', v: 'lefevre', x: 'Lefèvre' }]);
    expect(entries(r, 'address')).toContainEqual({ p: 'address', v: '12 rue des oeillets', x: '12  rue des Œillets' });
    expect(entries(r, 'identifier')).toEqual([
      { p: 'identifier', s: 'urn:oid:1.2.250.1.213.1.4.8', c: '2800375123456', ts: 'http://interopsante.org/CodeSystem/v2-0203', tc: 'INS-NIR' },
    ]);
    expect(entries(r, 'birthdate')).toEqual([{ p: 'birthdate', st: ms('1980-03-14T00:00:00Z'), et: ms('1980-03-15T00:00:00Z') - 1 }]);
    expect(entries(r, 'general-practitioner')).toEqual([{ p: 'general-practitioner', r: 'Practitioner/dr-martin' }]);
    expect(entries(r, '_tag')).toEqual([{ p: '_tag', s: 'https://carnet.example/tags', c: 'imported' }]);
    expect(entries(r, 'email')).toEqual([{ p: 'email', c: 'helene@example.fr' }]);
    expect(entries(r, 'gender')).toEqual([{ p: 'gender', s: 'http://hl7.org/fhir/administrative-gender', c: 'female' }]);
    expect(r.idx.some((e) => e.p === '_id' || e.p === '_lastUpdated')).toBe(false);
    expect(r.comp).toEqual(['Patient/helene']);
    expect(r.srt).toMatchObject({ given: 'helene', '-given': 'marie', family: 'lefevre', birthdate: ms('1980-03-14T00:00:00Z') });
  });

  it('indexes deceased (a boolean expression) and death-date (dateTime as)', () => {
    // R4's expression is `deceased.exists() and deceased != false`: false for the living.
    expect(entries(recordOf(helene), 'deceased')).toEqual([{ p: 'deceased', c: 'false' }]);
    const r = recordOf(paul);
    expect(entries(r, 'deceased')).toEqual([{ p: 'deceased', c: 'true' }]);
    expect(entries(r, 'death-date')[0].st).toBe(ms('2026-04-02T08:00:00Z'));
  });

  it('indexes an Observation: valueQuantity with UCUM canonical form, effectivePeriod, subject', () => {
    const r = recordOf(glucose);
    expect(entries(r, 'value-quantity')).toEqual([
      { p: 'value-quantity', n: 0.95, s: 'http://unitsofmeasure.org', c: 'g/L', cn: 950, cc: 'g.m-3' },
    ]);
    expect(entries(r, 'date')).toEqual([{ p: 'date', st: ms('2026-03-01T07:00:00Z'), et: ms('2026-03-01T07:30:00Z') + 999 }]);
    expect(entries(r, 'code')).toEqual([
      { p: 'code', s: 'http://loinc.org', c: '2339-0', t: 'glucose [mass/volume] in blood' },
      { p: 'code', t: 'glycemie' },
    ]);
    expect(entries(r, 'subject')).toEqual([{ p: 'subject', r: 'Patient/helene' }]);
    // where(resolve() is Patient): decided by the reference's type
    expect(entries(r, 'patient')).toEqual([{ p: 'patient', r: 'Patient/helene' }]);
    // an absolute reference to this server is indexed as a local one
    expect(entries(r, 'performer')).toEqual([{ p: 'performer', r: 'Practitioner/dr-martin' }]);
    expect(entries(r, 'code-value-quantity')).toEqual([
      { p: 'code-value-quantity', '0s': 'http://loinc.org', '0c': '2339-0', '0t': 'glucose [mass/volume] in blood', '1n': 0.95, '1s': 'http://unitsofmeasure.org', '1c': 'g/L', '1cn': 950, '1cc': 'g.m-3' },
    ]);
    expect(r.comp).toEqual(['Patient/helene']);
  });

  it('pairs each component code with its own value in composites', () => {
    const r = recordOf(bloodPressure);
    const pairs = entries(r, 'component-code-value-quantity').map((e) => [e['0c'], e['1n']]);
    expect(pairs).toEqual([
      ['8480-6', 120],
      ['8462-4', 80],
    ]);
    expect(entries(r, 'date')[0]).toMatchObject({ st: ms('2026-03-15T00:00:00Z') });
  });

  it('indexes a DocumentReference as IHE MHD searches it', () => {
    const r = recordOf(report);
    expect(entries(r, 'type')).toEqual([{ p: 'type', s: 'http://loinc.org', c: '11502-2', t: "cr d'examens biologiques" }]);
    expect(entries(r, 'category')).toEqual([{ p: 'category', s: 'urn:oid:1.2.250.1.213.1.1.4.1', c: 'BIO', t: 'biologie' }]);
    expect(entries(r, 'subject')).toEqual([{ p: 'subject', r: 'Patient/helene' }]);
    expect(entries(r, 'patient')).toEqual([{ p: 'patient', r: 'Patient/helene' }]);
    expect(entries(r, 'author')).toEqual([
      { p: 'author', r: 'Practitioner/dr-martin' },
      { p: 'author', r: 'Organization/labo-42' },
    ]);
    expect(entries(r, 'period')).toEqual([{ p: 'period', st: ms('2026-03-01T00:00:00Z'), et: ms('2026-03-03T00:00:00Z') - 1 }]);
    expect(entries(r, 'creation')).toEqual([{ p: 'creation', st: ms('2026-03-01T17:00:00Z'), et: ms('2026-03-01T17:00:00Z') + 999 }]);
    expect(entries(r, 'identifier')).toEqual([{ p: 'identifier', s: 'urn:ietf:rfc:3986', c: 'urn:oid:1.2.250.1.999.1.2.3' }]);
    // a code with a required binding to one code system is indexed with that system
    expect(entries(r, 'contenttype')).toEqual([{ p: 'contenttype', s: 'urn:ietf:bcp:13', c: 'application/pdf' }]);
    expect(entries(r, 'status')).toEqual([{ p: 'status', s: 'http://hl7.org/fhir/document-reference-status', c: 'current' }]);
    expect(entries(r, 'location')).toEqual([{ p: 'location', u: 'Binary/cr-bio-pdf' }]);
    expect(entries(r, '_security')).toEqual([{ p: '_security', s: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', c: 'N' }]);
    expect(entries(r, 'description')).toEqual([{ p: 'description', v: 'compte rendu de biologie', x: 'Compte rendu de biologie' }]);
    expect(r.comp).toEqual(['Patient/helene']);
  });

  it('puts resources in the compartments of the patients they refer to by the CompartmentDefinition params', () => {
    expect(recordOf(allergy).comp).toEqual(['Patient/helene']);
    expect(recordOf(appointment).comp).toEqual(['Patient/paul']);
    expect(entries(recordOf(appointment), 'patient')).toEqual([{ p: 'patient', r: 'Patient/paul' }]);
    expect(entries(recordOf(appointment), 'practitioner')).toEqual([{ p: 'practitioner', r: 'Practitioner/dr-martin' }]);
  });

  it('gives the same compartments from the compartment parameters alone (compartmentsOf)', () => {
    const twoPatients = { ...appointment, participant: [...(appointment.participant as unknown[]), { actor: { reference: 'Patient/helene' }, status: 'accepted' }] };
    for (const resource of [...ALL, twoPatients]) {
      expect(compartmentsOf(resource, createSearchRegistry()), resource.resourceType).toEqual(recordOf(resource).comp);
    }
    expect(compartmentsOf(twoPatients, createSearchRegistry())).toEqual(['Patient/helene', 'Patient/paul']);
  });

  it('indexes an open-ended Period up to the end of time', () => {
    const r = recordOf({ ...glucose, effectivePeriod: { start: '2026-03-01' } });
    expect(entries(r, 'date')).toEqual([{ p: 'date', st: ms('2026-03-01T00:00:00Z'), et: MAX_TIME }]);
  });

  it('skips values it cannot read rather than failing the write', () => {
    const r = recordOf({ resourceType: 'Patient', id: 'x', birthDate: 'yesterday', name: [{ family: 42 }] } as never);
    expect(entries(r, 'birthdate')).toEqual([]);
    expect(r.comp).toEqual(['Patient/x']);
  });
});

describe('contained resources', () => {
  const doc = {
    resourceType: 'DocumentReference',
    id: 'd1',
    status: 'current',
    contained: [
      { resourceType: 'Practitioner', id: 'auteur', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000001' }], name: [{ family: 'Contenu', given: ['Claire'] }] },
      { resourceType: 'Patient', id: 'source', name: [{ family: 'Ailleurs' }] },
    ],
    subject: { reference: 'Patient/p1' },
    author: [{ reference: '#auteur' }, { reference: '#absent' }],
    content: [{ attachment: { url: 'http://x/Binary/b' } }],
  };

  it('are indexed under the referring parameter, for chains to reach them', () => {
    const r = recordOf(doc as any);
    expect(entries(r, 'author')).toEqual([{ p: 'author', l: 'auteur' }, { p: 'author', l: 'absent' }]);
    expect(entries(r, 'author:Practitioner.family')).toEqual([expect.objectContaining({ v: 'contenu' })]);
    expect(entries(r, 'author:Practitioner.given')).toEqual([expect.objectContaining({ v: 'claire' })]);
    expect(entries(r, 'author:Practitioner.identifier')).toEqual([{ p: 'author:Practitioner.identifier', s: 'urn:oid:1.2.250.1.71.4.2.1', c: '810000000001' }]);
    // A contained resource no search parameter refers to adds nothing; nor does the container's compartment change.
    expect(r.idx.some((e) => String(e.p).includes('Ailleurs') || String(e.p).startsWith('subject:'))).toBe(false);
    expect(r.comp).toEqual(['Patient/p1']);
    expect(Object.keys(r.srt ?? {}).some((k) => k.includes(':'))).toBe(false);
  });
});
