import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Issue } from '../errors.js';
import { createValidator, type Validator } from './index.js';
import { defaultProfilesDir, loadProfiles } from './profiles.js';

/** carnet's reading of the IHE MHD 4.2.x List profiles (SubmissionSet, Folder) and of their PDSm derivations. */
const MHD = 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/';
const PDSM = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/';
const LIST = `${MHD}IHE.MHD.List`;
const MINIMAL_SS = `${MHD}IHE.MHD.Minimal.SubmissionSet`;
const UNCONTAINED_SS = `${MHD}IHE.MHD.UnContained.Comprehensive.SubmissionSet`;
const COMPREHENSIVE_SS = `${MHD}IHE.MHD.Comprehensive.SubmissionSet`;
const PDSM_SS = `${PDSM}pdsm-submissionset-comprehensive`;
const MINIMAL_FOLDER = `${MHD}IHE.MHD.Minimal.Folder`;
const COMPREHENSIVE_FOLDER = `${MHD}IHE.MHD.Comprehensive.Folder`;
const PDSM_FOLDER = `${PDSM}pdsm-folder-comprehensive`;
const ADDED = [LIST, MINIMAL_SS, UNCONTAINED_SS, COMPREHENSIVE_SS, PDSM_SS, MINIMAL_FOLDER, COMPREHENSIVE_FOLDER, PDSM_FOLDER];

const LIST_TYPES = 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes';
const SOURCE_ID = `${MHD}ihe-sourceId`;
const DESIGNATION_TYPE = `${MHD}ihe-designationType`;
const AUTHOR_ORG = `${MHD}ihe-authorOrg`;
const IS_ARCHIVED = `${PDSM}pdsm-ext-is-archived`;
const EXAMPLE = '/work/shared/data/mhd/pdsm4dmp-Bundle-example-td2-1-remplacement.json';

let validator: Validator;
beforeAll(() => {
  validator = createValidator();
});

const errors = (resource: unknown): Issue[] => validator.validate(resource).issues.filter((i) => i.severity === 'error');
/** Each error as [expression, code], the way the caller sees where and what. */
const where = (resource: unknown) => errors(resource).map((i) => [i.expression?.[0], i.code]);
const label = (url: string) => url.split('/').pop()!;

const sourceId = () => ({ url: SOURCE_ID, valueIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.999.7' } });
const designationType = (code = 'SA05') => ({
  url: DESIGNATION_TYPE,
  valueCodeableConcept: { coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite', code }] },
});
const listCode = (code: string) => ({ coding: [{ system: LIST_TYPES, code, display: code === 'folder' ? 'Folder' : 'Submission Set' }] });

/** A SubmissionSet that meets every SubmissionSet profile, PDSm included (author contained, designationType, subject). */
function submissionSet(profile: string): Record<string, any> {
  return {
    resourceType: 'List',
    meta: { profile: [profile] },
    contained: [
      { resourceType: 'PractitionerRole', id: 'auteur', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10000000001' }] },
    ],
    extension: [designationType(), sourceId()],
    identifier: [
      { use: 'usual', system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.999.8.1' },
      { use: 'official', system: 'urn:ietf:rfc:3986', value: 'urn:uuid:0e4b1f6c-1111-4000-8000-000000000001' },
    ],
    status: 'current',
    mode: 'working',
    title: 'Suivi post-opératoire',
    code: listCode('submissionset'),
    subject: { reference: 'Patient/p1' },
    date: '2026-06-12T11:00:00+02:00',
    source: { reference: '#auteur' },
    entry: [{ item: { reference: 'DocumentReference/d1' } }],
  };
}

/** The least an MHD Minimal SubmissionSet carries. */
function minimalSubmissionSet(): Record<string, any> {
  return {
    resourceType: 'List',
    meta: { profile: [MINIMAL_SS] },
    extension: [sourceId()],
    status: 'current',
    mode: 'working',
    code: listCode('submissionset'),
    date: '2026-06-12T11:00:00+02:00',
    entry: [{ item: { reference: 'DocumentReference/d1' } }],
  };
}

/** A Folder that meets every Folder profile, PDSm included. */
function folder(profile: string): Record<string, any> {
  return {
    resourceType: 'List',
    meta: { profile: [profile] },
    extension: [designationType()],
    identifier: [{ use: 'usual', system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.999.9.1' }],
    status: 'current',
    mode: 'working',
    title: 'Grossesse 2026',
    code: listCode('folder'),
    subject: { reference: 'Patient/p1' },
    date: '2026-06-12T11:00:00+02:00',
    entry: [{ item: { reference: 'DocumentReference/d1' } }],
  };
}

const without = (list: Record<string, any>, url: string): Record<string, any> => ({ ...list, extension: list.extension.filter((e: any) => e.url !== url) });

describe('shipped MHD List profiles', () => {
  it('are known, and every rule of their differentials is understood', () => {
    for (const url of ADDED) expect(validator.isProfileKnown(`${url}|4.2.3`), url).toBe(true);
    const compiled = loadProfiles(defaultProfilesDir());
    for (const url of ADDED) {
      const profile = compiled.get(url)!;
      expect({ url, type: profile.type, ignored: profile.ignored }).toEqual({ url, type: 'List', ignored: [] });
    }
  });

  it('inherit through baseDefinition: PDSm SubmissionSet carries the IHE.MHD.List and Minimal rules', () => {
    const rules = loadProfiles(defaultProfilesDir()).get(PDSM_SS)!.rules.map((r) => [...r.parent, r.slice ? `${r.name}:${r.slice}` : r.name].join('.'));
    expect(rules).toEqual(expect.arrayContaining(['modifierExtension', 'code', 'extension:sourceId', 'extension:designationType', 'date', 'subject', 'source', 'contained', 'extension:isArchived']));
  });
});

describe.each([
  { profile: MINIMAL_SS, name: label(MINIMAL_SS) },
  { profile: UNCONTAINED_SS, name: label(UNCONTAINED_SS) },
  { profile: COMPREHENSIVE_SS, name: label(COMPREHENSIVE_SS) },
  { profile: PDSM_SS, name: label(PDSM_SS) },
])('SubmissionSet $name', ({ profile }) => {
  const by = `by profile ${label(profile)}`;

  it('accepts a conforming SubmissionSet', () => {
    expect(validator.validate(submissionSet(profile)).issues).toEqual([]);
  });

  it('requires the ihe-sourceId extension', () => {
    const issues = errors(without(submissionSet(profile), SOURCE_ID));
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([[`List.extension('${SOURCE_ID}')`, 'required']]);
    expect(issues[0]!.diagnostics).toBe(`Missing element 'extension:sourceId', required ${by}`);
  });

  it("requires List.code 'submissionset'", () => {
    const issues = errors({ ...submissionSet(profile), code: listCode('folder') });
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['List.code', 'value']]);
    expect(issues[0]!.diagnostics).toMatch(/^Element 'code' must match .*submissionset/);
    expect(where({ ...submissionSet(profile), code: { coding: [{ system: 'http://example.org/other', code: 'submissionset' }] } })).toEqual([['List.code', 'value']]);
  });

  it("requires mode 'working'", () => {
    const issues = errors({ ...submissionSet(profile), mode: 'snapshot' });
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['List.mode', 'value']]);
    expect(issues[0]!.diagnostics).toBe(`Element 'mode' must match 'working' ${by}`);
  });

  it('requires the submission date', () => {
    const { date: _d, ...list } = submissionSet(profile);
    const issues = errors(list);
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['List.date', 'required']]);
    expect(issues[0]!.diagnostics).toBe(`Missing element 'date', required ${by}`);
  });

  it('forbids an encounter', () => {
    const issues = errors({ ...submissionSet(profile), encounter: { reference: 'Encounter/e1' } });
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['List.encounter', 'structure']]);
    expect(issues[0]!.diagnostics).toBe(`Element 'encounter' is not allowed ${by}`);
  });

  it("requires status 'current' and refuses entry flags and a second designationType", () => {
    const list = submissionSet(profile);
    list.status = 'retired';
    list.entry[0].flag = { text: 'nouveau' };
    list.extension.push(designationType('SA07'));
    expect(where(list)).toEqual([
      ["List.extension('https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType')", 'structure'],
      ['List.status', 'value'],
      ['List.entry[0].flag', 'structure'],
    ]);
  });
});

describe('what each SubmissionSet profile adds', () => {
  it('Minimal accepts a SubmissionSet without designationType, subject or author', () => {
    expect(validator.validate(minimalSubmissionSet()).issues).toEqual([]);
  });

  it('Minimal allows one authorOrg on source, not two', () => {
    const org = { url: AUTHOR_ORG, valueReference: { reference: 'Organization/o1' } };
    expect(errors({ ...minimalSubmissionSet(), source: { extension: [org] } })).toEqual([]);
    expect(where({ ...minimalSubmissionSet(), source: { extension: [org, org] } })).toEqual([[`List.source.extension('${AUTHOR_ORG}')`, 'structure']]);
  });

  it('UnContained Comprehensive requires designationType and subject', () => {
    const issues = errors({ ...minimalSubmissionSet(), meta: { profile: [UNCONTAINED_SS] } });
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([
      [`List.extension('${DESIGNATION_TYPE}')`, 'required'],
      ['List.subject', 'required'],
    ]);
    expect(issues[0]!.diagnostics).toBe("Missing element 'extension:designationType', required by profile IHE.MHD.UnContained.Comprehensive.SubmissionSet");
  });

  it('Comprehensive requires the author (source) to be contained; UnContained does not', () => {
    const uncontained = { ...submissionSet(COMPREHENSIVE_SS), contained: undefined, source: { reference: 'PractitionerRole/pr1' } };
    expect(where(uncontained)).toEqual([['List.source.reference', 'invalid']]);
    expect(errors({ ...uncontained, meta: { profile: [UNCONTAINED_SS] } })).toEqual([]);
  });

  it('PDSm requires a contained resource and an author, and allows one isArchived', () => {
    const { contained: _c, source: _s, ...list } = submissionSet(PDSM_SS);
    expect(where(list)).toEqual([['List.contained', 'required'], ['List.source', 'required']]);
    // Without contained resources, '#auteur' also points nowhere (R4 ref-1).
    expect(where({ ...submissionSet(PDSM_SS), contained: undefined })).toEqual([['List.source', 'invariant'], ['List.contained', 'required']]);
    const archived = { url: IS_ARCHIVED, valueBoolean: false };
    const twice = submissionSet(PDSM_SS);
    twice.extension.push(archived);
    expect(errors(twice)).toEqual([]);
    twice.extension.push(archived);
    expect(where(twice)).toEqual([[`List.extension('${IS_ARCHIVED}')`, 'structure']]);
  });

  it('PDSm rules do not apply to a plain MHD Comprehensive SubmissionSet', () => {
    const { contained: _c, source: _s, ...list } = submissionSet(COMPREHENSIVE_SS);
    expect(errors(list)).toEqual([]);
  });

  it('accepts the SubmissionSet of the PDSM4DMP replacement example, which declares PDSm', () => {
    const bundle = JSON.parse(readFileSync(EXAMPLE, 'utf8'));
    const list = bundle.entry.find((e: any) => e.resource.resourceType === 'List').resource;
    expect(list.meta.profile).toEqual([PDSM_SS]);
    expect(validator.validate(list).issues).toEqual([]);
    expect(where(without(list, SOURCE_ID))).toEqual([[`List.extension('${SOURCE_ID}')`, 'required']]);
  });
});

describe.each([
  { profile: MINIMAL_FOLDER, name: label(MINIMAL_FOLDER), dateRequired: false },
  { profile: COMPREHENSIVE_FOLDER, name: label(COMPREHENSIVE_FOLDER), dateRequired: false },
  { profile: PDSM_FOLDER, name: label(PDSM_FOLDER), dateRequired: true },
])('Folder $name', ({ profile, dateRequired }) => {
  const by = `by profile ${label(profile)}`;

  it('accepts a conforming Folder', () => {
    expect(validator.validate(folder(profile)).issues).toEqual([]);
  });

  it('does not require ihe-sourceId (MHD defines it on SubmissionSets only)', () => {
    const list = folder(profile);
    expect(list.extension.some((e: any) => e.url === SOURCE_ID)).toBe(false);
    expect(errors(list)).toEqual([]);
    expect(where({ ...list, meta: { profile: [MINIMAL_SS] }, code: listCode('submissionset') })).toContainEqual([`List.extension('${SOURCE_ID}')`, 'required']);
  });

  it("requires List.code 'folder'", () => {
    const issues = errors({ ...folder(profile), code: listCode('submissionset') });
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['List.code', 'value']]);
    expect(issues[0]!.diagnostics).toMatch(/^Element 'code' must match .*folder/);
  });

  it("requires mode 'working'", () => {
    const issues = errors({ ...folder(profile), mode: 'changes' });
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['List.mode', 'value']]);
    expect(issues[0]!.diagnostics).toBe(`Element 'mode' must match 'working' ${by}`);
  });

  it(dateRequired ? 'requires the date' : 'leaves the date (lastUpdateTime) optional', () => {
    const { date: _d, ...list } = folder(profile);
    if (dateRequired) {
      const issues = errors(list);
      expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['List.date', 'required']]);
      expect(issues[0]!.diagnostics).toBe(`Missing element 'date', required ${by}`);
    } else {
      expect(errors(list)).toEqual([]);
    }
  });

  it('forbids an encounter and a source', () => {
    const issues = errors({ ...folder(profile), encounter: { reference: 'Encounter/e1' }, source: { reference: 'Practitioner/pr1' } });
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([['List.encounter', 'structure'], ['List.source', 'structure']]);
    expect(issues[0]!.diagnostics).toBe(`Element 'encounter' is not allowed ${by}`);
  });
});

describe('what each Folder profile adds', () => {
  const bare = (): Record<string, any> => {
    const { extension: _e, title: _t, subject: _s, date: _d, identifier: _i, ...list } = folder(MINIMAL_FOLDER);
    return list;
  };

  it('Minimal accepts a Folder with only code, status and mode', () => {
    expect(validator.validate(bare()).issues).toEqual([]);
  });

  it('Comprehensive requires designationType, title and subject', () => {
    expect(where({ ...bare(), meta: { profile: [COMPREHENSIVE_FOLDER] } })).toEqual([
      [`List.extension('${DESIGNATION_TYPE}')`, 'required'],
      ['List.title', 'required'],
      ['List.subject', 'required'],
    ]);
  });

  it('PDSm requires an entry and allows one designationType', () => {
    const list = { ...folder(PDSM_FOLDER), entry: undefined, extension: [designationType(), designationType('SA07')] };
    expect(where(list)).toEqual([
      [`List.extension('${DESIGNATION_TYPE}')`, 'structure'],
      ['List.entry', 'required'],
    ]);
    expect(errors({ ...list, meta: { profile: [COMPREHENSIVE_FOLDER] } })).toEqual([]);
  });
});

describe('IHE.MHD.List, the common base', () => {
  it('accepts a SubmissionSet and a Folder', () => {
    expect(validator.validate(submissionSet(LIST)).issues).toEqual([]);
    expect(validator.validate(folder(LIST)).issues).toEqual([]);
  });

  it('requires a code and forbids modifierExtension, in itself and in every profile derived from it', () => {
    const { code: _c, ...list } = folder(LIST);
    expect(where(list)).toEqual([['List.code', 'required']]);
    const modifier = { url: 'http://example.org/fhir/StructureDefinition/cancelled', valueBoolean: true };
    for (const profile of [LIST, PDSM_SS, PDSM_FOLDER]) {
      const resource = profile === PDSM_SS ? submissionSet(profile) : folder(profile);
      expect(where({ ...resource, modifierExtension: [modifier] }), profile).toEqual([['List.modifierExtension[0]', 'structure']]);
    }
  });

  it('does not itself check the SubmissionSet rules', () => {
    const { date: _d, ...list } = without(submissionSet(LIST), SOURCE_ID);
    expect(errors({ ...list, mode: 'snapshot', encounter: { reference: 'Encounter/e1' } })).toEqual([]);
  });
});
