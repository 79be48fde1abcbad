import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Issue } from '../errors.js';
import { createValidator, type Validator } from './index.js';
import { defaultProfilesDir } from './profiles.js';

const MHD = 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/';
const MINIMAL = `${MHD}IHE.MHD.Minimal.DocumentReference`;
const COMPREHENSIVE = `${MHD}IHE.MHD.Comprehensive.DocumentReference`;
const PDSM = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-comprehensive-document-reference';

let validator: Validator;
beforeAll(() => {
  validator = createValidator();
});

const errors = (resource: unknown, profile?: string): Issue[] =>
  validator.validate(resource, { profile }).issues.filter((i) => i.severity === 'error');

const coding = (system: string, code: string) => ({ coding: [{ system, code }] });

function minimal(profile = MINIMAL): Record<string, any> {
  return {
    resourceType: 'DocumentReference',
    meta: { profile: [profile] },
    masterIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.213.1.4.8.99999.1' },
    status: 'current',
    content: [{ attachment: { contentType: 'application/pdf', url: 'Binary/b1' } }],
  };
}

/** A PDSm document as the French examples shape it, custodian included. */
function pdsm(): Record<string, any> {
  return {
    ...minimal(PDSM),
    contained: [
      { resourceType: 'Patient', id: 'patient-source', identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '123456789012345' }] },
      { resourceType: 'Practitioner', id: 'author', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '899700218896' }] },
    ],
    type: coding('http://loinc.org', '11488-4'),
    category: [coding('urn:oid:1.2.250.1.213.1.1.4.1', '10')],
    subject: { reference: 'Patient/p1' },
    date: '2024-06-12T11:00:00+02:00',
    author: [{ reference: '#author' }],
    authenticator: { reference: '#author' },
    custodian: { reference: 'Organization/o1' },
    securityLabel: [coding('http://terminology.hl7.org/CodeSystem/v3-Confidentiality', 'N')],
    content: [
      {
        attachment: {
          contentType: 'application/pdf',
          language: 'fr-FR',
          url: 'Binary/b1',
          size: 80,
          hash: 'A/hMRrv6Y15BjSM8kMLidrz+mHc=',
          title: 'Compte rendu de consultation',
          creation: '2024-06-12T11:00:00+02:00',
        },
        format: { system: 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode', code: 'urn:ihe:iti:xds:2017:mimeTypeSufficient' },
      },
    ],
    context: {
      period: { start: '2024-06-12T10:00:00+02:00' },
      facilityType: coding('http://snomed.info/sct', '22232009'),
      practiceSetting: coding('http://snomed.info/sct', '394802001'),
      sourcePatientInfo: { reference: '#patient-source' },
    },
  };
}

describe('shipped profiles', () => {
  it('lists the MHD and PDSm DocumentReference and List profiles', () => {
    const PDSM_IG = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/';
    expect(validator.profiles().sort()).toEqual([
      COMPREHENSIVE,
      MINIMAL,
      `${MHD}IHE.MHD.UnContained.Comprehensive.DocumentReference`,
      PDSM,
      `${MHD}IHE.MHD.List`,
      `${MHD}IHE.MHD.Minimal.SubmissionSet`,
      `${MHD}IHE.MHD.UnContained.Comprehensive.SubmissionSet`,
      `${MHD}IHE.MHD.Comprehensive.SubmissionSet`,
      `${MHD}IHE.MHD.Minimal.Folder`,
      `${MHD}IHE.MHD.Comprehensive.Folder`,
      `${PDSM_IG}pdsm-submissionset-comprehensive`,
      `${PDSM_IG}pdsm-folder-comprehensive`,
    ].sort());
    expect(validator.isProfileKnown(`${MINIMAL}|4.2.3`)).toBe(true);
    expect(validator.isProfileKnown('http://example.org/StructureDefinition/other')).toBe(false);
  });

  it('are valid R4 StructureDefinitions', () => {
    const dir = defaultProfilesDir();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const sd = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      expect({ file, issues: errors(sd) }).toEqual({ file, issues: [] });
    }
  });
});

describe('MHD Minimal DocumentReference', () => {
  it('accepts a minimal document', () => {
    expect(errors(minimal())).toEqual([]);
  });

  it('requires masterIdentifier', () => {
    const { masterIdentifier: _m, ...doc } = minimal();
    const issues = errors(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'required', expression: ['DocumentReference.masterIdentifier'] });
    expect(issues[0]!.diagnostics).toBe("Missing element 'masterIdentifier', required by profile IHE.MHD.Minimal.DocumentReference");
  });

  it('forbids attachment.data', () => {
    const doc = minimal();
    doc.content[0].attachment.data = 'JVBERi0xLjQK';
    const issues = errors(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'structure', expression: ['DocumentReference.content[0].attachment.data'] });
    expect(issues[0]!.diagnostics).toBe("Element 'data' is not allowed by profile IHE.MHD.Minimal.DocumentReference");
  });

  it('checks nested elements in each content, and content 1..1', () => {
    const doc = minimal();
    doc.content.push({ attachment: { url: 'Binary/b2' } });
    const issues = errors(doc);
    expect(issues.map((i) => i.expression?.[0]).sort()).toEqual(['DocumentReference.content', 'DocumentReference.content[1].attachment.contentType']);
  });

  it('applies only when declared or requested', () => {
    const { masterIdentifier: _m, meta: _meta, ...doc } = minimal();
    expect(errors(doc)).toEqual([]);
    expect(errors(doc, MINIMAL).map((i) => i.expression?.[0])).toEqual(['DocumentReference.masterIdentifier']);
  });
});

describe('MHD Comprehensive and PDSm DocumentReference', () => {
  it('lists what Comprehensive adds to Minimal', () => {
    const issues = errors(minimal(COMPREHENSIVE));
    expect(issues.map((i) => i.expression?.[0]).sort()).toEqual([
      'DocumentReference.category',
      'DocumentReference.content[0].attachment.creation',
      'DocumentReference.content[0].attachment.language',
      'DocumentReference.content[0].format',
      'DocumentReference.context',
      'DocumentReference.securityLabel',
      'DocumentReference.subject',
      'DocumentReference.type',
    ]);
  });

  it('accepts a complete PDSm document, which also satisfies MHD Comprehensive', () => {
    expect(validator.validate(pdsm()).issues).toEqual([]);
    expect(errors({ ...pdsm(), meta: { profile: [COMPREHENSIVE] } })).toEqual([]);
  });

  it('PDSm requires custodian (the PDSM4DMP examples omit it)', () => {
    const { custodian: _c, ...doc } = pdsm();
    const issues = errors(doc);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ expression: ['DocumentReference.custodian'] });
    expect(issues[0]!.diagnostics).toMatch(/custodian.*pdsm-comprehensive-document-reference/);
  });

  it('Comprehensive requires author and sourcePatientInfo to be contained', () => {
    const doc = { ...pdsm(), author: [{ reference: 'Practitioner/pr1' }] };
    const issues = errors(doc);
    expect(issues.map((i) => i.expression?.[0])).toEqual(['DocumentReference.author[0].reference']);
    expect(issues[0]!.diagnostics).toMatch(/contained resource/);
  });

  it('checks nested PDSm additions: context.period.start', () => {
    const doc = pdsm();
    doc.context.period = { end: '2024-06-12T11:00:00+02:00' };
    expect(errors(doc).map((i) => i.expression?.[0])).toEqual(['DocumentReference.context.period.start']);
  });
});

describe('unknown and mismatched profiles', () => {
  it('warns about an unknown declared profile and still validates', () => {
    const doc = { ...minimal(), meta: { profile: ['http://example.org/StructureDefinition/unknown|1.0'] } };
    const issues = validator.validate(doc).issues;
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'warning', expression: ['DocumentReference.meta.profile[0]'] });
  });

  it('refuses an unknown requested profile', () => {
    expect(errors(minimal(), 'http://example.org/StructureDefinition/unknown')[0]!.diagnostics).toMatch(/not known/);
  });

  it('refuses a profile of another resource type', () => {
    const issues = errors({ resourceType: 'Patient', meta: { profile: [MINIMAL] } });
    expect(issues[0]!.diagnostics).toBe('Profile IHE.MHD.Minimal.DocumentReference applies to DocumentReference, not Patient');
  });
});

describe('profile rules from a profiles folder', () => {
  let dir: string;
  let custom: Validator;
  const URL = 'http://example.org/StructureDefinition/submission-set';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'carnet-profiles-'));
    const base = {
      resourceType: 'StructureDefinition',
      url: `${URL}-base`,
      name: 'Base',
      status: 'draft',
      kind: 'resource',
      abstract: false,
      type: 'List',
      baseDefinition: 'http://hl7.org/fhir/StructureDefinition/List',
      derivation: 'constraint',
      differential: { element: [{ id: 'List.mode', path: 'List.mode', fixedCode: 'working' }] },
    };
    const profile = {
      ...base,
      url: URL,
      name: 'SubmissionSet',
      baseDefinition: `${URL}-base`,
      differential: {
        element: [
          { id: 'List.extension', path: 'List.extension', slicing: { discriminator: [{ type: 'value', path: 'url' }], rules: 'open' } },
          { id: 'List.extension:sourceId', path: 'List.extension', sliceName: 'sourceId', min: 1, max: '1', type: [{ code: 'Extension', profile: ['http://example.org/ext/sourceId'] }] },
          { id: 'List.extension:sourceId.value[x]', path: 'List.extension.value[x]', min: 1 },
          { id: 'List.identifier:uniqueId', path: 'List.identifier', sliceName: 'uniqueId', min: 1 },
          { id: 'List.code', path: 'List.code', min: 1, patternCodeableConcept: { coding: [{ system: 'http://example.org/types', code: 'submissionset' }] } },
        ],
      },
    };
    writeFileSync(join(dir, 'base.json'), JSON.stringify(base));
    writeFileSync(join(dir, 'submission-set.json'), JSON.stringify(profile));
    custom = createValidator({ profilesDir: dir });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const list = (): Record<string, any> => ({
    resourceType: 'List',
    meta: { profile: [URL] },
    extension: [{ url: 'http://example.org/ext/sourceId', valueIdentifier: { value: 'urn:oid:1.2.3' } }],
    status: 'current',
    mode: 'working',
    code: { coding: [{ system: 'http://example.org/types', code: 'submissionset', display: 'Submission set' }] },
  });

  it('reads the folder, follows baseDefinition, and accepts a conforming resource', () => {
    expect(custom.profiles().sort()).toEqual([URL, `${URL}-base`]);
    expect(custom.validate(list()).issues).toEqual([]);
  });

  it('checks extension slices by URL, fixed and pattern values', () => {
    const issues = custom.validate({ ...list(), extension: undefined, mode: 'snapshot', code: { coding: [{ system: 'http://example.org/types', code: 'folder' }] } }).issues;
    expect(issues.map((i) => [i.expression?.[0], i.code])).toEqual([
      ['List.mode', 'value'],
      ["List.extension('http://example.org/ext/sourceId')", 'required'],
      ['List.code', 'value'],
    ]);
  });

  it('refuses a folder holding a malformed profile', () => {
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ resourceType: 'StructureDefinition', url: 'x' }));
    expect(() => createValidator({ profilesDir: dir })).toThrow(/broken.json/);
  });
});
