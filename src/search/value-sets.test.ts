import { describe, expect, it } from 'vitest';
import { createValueSetExpander } from './value-sets.js';

const cs = {
  resourceType: 'CodeSystem',
  url: 'https://carnet.example/cs/vaccins',
  content: 'complete',
  concept: [
    { code: 'ROR', concept: [{ code: 'ROR-1' }, { code: 'ROR-2' }] },
    { code: 'DTP', concept: [{ code: 'DTP-rappel', concept: [{ code: 'DTP-25' }] }] },
  ],
};
const vs = (url: string, compose: unknown) => ({ resourceType: 'ValueSet', url, compose });

describe('createValueSetExpander', () => {
  const exp = createValueSetExpander([
    cs,
    vs('https://carnet.example/vs/all', { include: [{ system: cs.url }] }),
    vs('https://carnet.example/vs/dtp', { include: [{ system: cs.url, filter: [{ property: 'concept', op: 'is-a', value: 'DTP' }] }] }),
    vs('https://carnet.example/vs/below-dtp', { include: [{ system: cs.url, filter: [{ property: 'concept', op: 'descendent-of', value: 'DTP' }] }] }),
    vs('https://carnet.example/vs/some', { include: [{ system: 'http://loinc.org', concept: [{ code: '1' }, { code: '2' }] }, { valueSet: ['https://carnet.example/vs/dtp'] }], exclude: [{ system: cs.url, concept: [{ code: 'DTP-25' }] }] }),
    vs('https://carnet.example/vs/snomed', { include: [{ system: 'http://snomed.info/sct', filter: [{ property: 'concept', op: 'is-a', value: '1' }] }] }),
  ]);
  it('expands systems, hierarchies, imports and excludes', () => {
    expect(exp.expand('https://carnet.example/vs/all')).toEqual([{ system: cs.url, codes: ['DTP', 'DTP-25', 'DTP-rappel', 'ROR', 'ROR-1', 'ROR-2'] }]);
    expect(exp.expand('https://carnet.example/vs/dtp')).toEqual([{ system: cs.url, codes: ['DTP', 'DTP-25', 'DTP-rappel'] }]);
    expect(exp.expand('https://carnet.example/vs/below-dtp|1.0')).toEqual([{ system: cs.url, codes: ['DTP-25', 'DTP-rappel'] }]);
    expect(exp.expand('https://carnet.example/vs/some')).toEqual([
      { system: 'http://loinc.org', codes: ['1', '2'] },
      { system: cs.url, codes: ['DTP', 'DTP-rappel'] },
    ]);
  });
  it('says why it cannot expand', () => {
    expect(exp.expand('https://carnet.example/vs/snomed')).toEqual({ error: expect.stringContaining('snomed') });
    expect(exp.expand('https://nowhere/vs')).toEqual({ error: expect.stringContaining('not known') });
  });
  it('expands the R4 value sets', () => {
    expect(exp.expand('http://hl7.org/fhir/ValueSet/administrative-gender')).toEqual([
      { system: 'http://hl7.org/fhir/administrative-gender', codes: ['female', 'male', 'other', 'unknown'] },
    ]);
  });
});
