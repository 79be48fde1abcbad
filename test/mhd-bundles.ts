import { createHash } from 'node:crypto';

/** ITI-65 Provide Document Bundles for tests (PDSm Comprehensive, or MHD Minimal documents). */

export const INS = 'urn:oid:1.2.250.1.213.1.4.8';
export const LISTS = 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes';
export const TRE_A03 = 'https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument';
export const V3 = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
export const PDSM_DOC = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-comprehensive-document-reference';
export const MINIMAL_DOC = 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.DocumentReference';
export const ARCHIVED = 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived';
export const FORMAT = 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode';
export const SCT = 'http://snomed.info/sct';
export const EXAMPLE = '/work/shared/data/mhd/pdsm4dmp-Bundle-example-td2-1-remplacement.json';

let uuid = 0;
export const urn = () => `urn:uuid:0e4b1f6c-0000-4000-8000-${String(++uuid).padStart(12, '0')}`;
let oid = 0;
export const uniqueId = () => ({ system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.250.1.999.1.${Date.now()}.${++oid}` });

export interface DocSpec {
  type: string;
  category: string;
  start: string;
  end?: string;
  archived?: boolean;
  /** An author stored on the server (MHD Minimal: not contained), so author.given/family chains reach it. */
  author?: string;
  masterIdentifier?: { system: string; value: string } | null;
  relatesTo?: string;
  custodian?: boolean;
  /** The document's bytes (default: "bonjour"). */
  content?: Buffer;
  /** An attachment.hash that is not the content's (an invalid variant). */
  wrongHash?: boolean;
}

export const contentOf = (spec: DocSpec) => spec.content ?? Buffer.from('bonjour');
export const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('base64');

/** A PDSm Comprehensive DocumentReference (custodian included), or an MHD Minimal one with a stored author. */
export function documentReference(spec: DocSpec, subject: string, binaryUrl: string): Record<string, unknown> {
  const doc: Record<string, any> = {
    resourceType: 'DocumentReference',
    meta: { profile: [spec.author ? MINIMAL_DOC : PDSM_DOC] },
    contained: [
      { resourceType: 'Patient', id: 'source', identifier: [{ system: INS, value: '1900112345678' }] },
      // Contained only when referred to: an unreferenced contained resource is invalid (dom-3).
      ...(spec.author ? [] : [{ resourceType: 'Practitioner', id: 'auteur', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000001' }], name: [{ family: 'Contenu', given: ['Claire'] }] }]),
    ],
    ...(spec.masterIdentifier === null ? {} : { masterIdentifier: spec.masterIdentifier ?? uniqueId() }),
    status: 'current',
    ...(spec.relatesTo ? { relatesTo: [{ code: 'replaces', target: { reference: spec.relatesTo } }] } : {}),
    type: { coding: [{ system: 'http://loinc.org', code: spec.type }] },
    category: [{ coding: [{ system: TRE_A03, code: spec.category }] }],
    subject: { reference: subject },
    date: '2026-06-12T11:00:00+02:00',
    author: [{ reference: spec.author ?? '#auteur' }],
    ...(spec.custodian === false ? {} : { custodian: { reference: 'Organization?identifier=https://finess.esante.gouv.fr|750712184' } }),
    securityLabel: [{ coding: [{ system: V3, code: 'N' }] }],
    content: [{
      attachment: { contentType: 'text/plain', language: 'fr-FR', url: binaryUrl, size: contentOf(spec).length, hash: spec.wrongHash ? sha1('autre chose') : sha1(contentOf(spec)), title: `Document ${spec.type}`, creation: '2026-06-12T10:00:00+02:00' },
      format: { system: FORMAT, code: 'urn:ihe:iti:xds:2017:mimeTypeSufficient' },
    }],
    context: {
      event: [{ coding: [{ system: SCT, code: '71388002' }] }],
      period: { start: spec.start, ...(spec.end ? { end: spec.end } : {}) },
      facilityType: { coding: [{ system: SCT, code: '22232009' }] },
      practiceSetting: { coding: [{ system: SCT, code: '394802001' }] },
      sourcePatientInfo: { reference: '#source' },
      related: [{ reference: 'Encounter/sejour-1' }],
    },
  };
  if (spec.archived !== undefined) doc.extension = [{ url: ARCHIVED, valueBoolean: spec.archived }];
  return doc;
}

/** An ITI-65 Provide Document Bundle: SubmissionSet, DocumentReferences, Binaries, a Folder. */
/** Three documents with different bytes (one of them 200 KB). */
export const CONTENTS = [Buffer.from('Compte rendu de consultation'), Buffer.alloc(200 * 1024, 'imagerie '), Buffer.from('Résultats de biologie')];

export function provideBundle(subject: string, specs: DocSpec[], opts: { folder?: boolean } = {}) {
  const docs = specs.map((spec) => {
    const binary = urn();
    const ref = urn();
    return [
      { fullUrl: ref, resource: documentReference(spec, subject, binary), request: { method: 'POST', url: 'DocumentReference' } },
      { fullUrl: binary, resource: { resourceType: 'Binary', contentType: 'text/plain', data: contentOf(spec).toString('base64') }, request: { method: 'POST', url: 'Binary' } },
    ];
  });
  const items = docs.map(([doc]) => ({ item: { reference: doc.fullUrl } }));
  const list = (code: string, entry: unknown[]) => ({
    resourceType: 'List',
    extension: [{ url: 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId', valueIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.3.4.5' } }],
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.250.1.999.2.${Date.now()}.${++oid}` }],
    status: 'current', mode: 'working',
    code: { coding: [{ system: LISTS, code }] },
    subject: { reference: subject },
    date: '2026-06-12T11:00:00+02:00',
    entry,
  });
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    meta: { profile: ['https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-comprehensive-provide-document-bundle'] },
    entry: [
      { fullUrl: urn(), resource: list('submissionset', items), request: { method: 'POST', url: 'List' } },
      ...(opts.folder ? [{ fullUrl: urn(), resource: list('folder', items), request: { method: 'POST', url: 'List' } }] : []),
      ...docs.flat(),
    ],
  };
}
