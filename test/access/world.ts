import { expect } from 'vitest';
import type { TestServer } from '../harness.js';

/**
 * A small world for access tests: patients, professionals, a representative, consents, labelled
 * documents and messages, written as the actors would write them.
 */
export const A07 = 'https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument';
export const INS = 'urn:oid:1.2.250.1.213.1.4.8';
const ROLE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const DAY = 24 * 3600 * 1000;

export const label = (code: string) => ({ coding: [{ system: A07, code }] });

/** A provision actor as R4 wants it (role 1..1). */
export const actor = (reference: string) => ({ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PRCP' }] }, reference: { reference } });

/** A patient-privacy Consent of the shape carnet enforces. */
export function consent(patient: Record<string, unknown> | string, provision: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: typeof patient === 'string' ? { reference: `Patient/${patient}` } : patient,
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision,
    ...extra,
  };
}

export interface World {
  s: TestServer;
  system: string;
  tokens: Record<'patientA' | 'patientB' | 'patientM' | 'rep' | 'adultRep' | 'gp' | 'doc' | 'blocked' | 'stranger' | 'author' | 'btg' | 'btgB' | 'appA', string>;
  ids: Record<string, string>;
}

export function doc(patient: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] },
    subject: { reference: `Patient/${patient}` },
    date: new Date().toISOString(),
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('compte rendu').toString('base64') } }],
    ...extra,
  };
}

export async function buildWorld(s: TestServer): Promise<World> {
  const system = await s.token({ scope: 'system/*.cruds' });
  const ids: Record<string, string> = {};
  const post = async (body: Record<string, unknown>, token = system): Promise<string> => {
    const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token, body });
    expect(res.status, res.text.slice(0, 400)).toBe(201);
    return res.body.id;
  };
  for (const p of ['gp', 'doc', 'blocked', 'stranger', 'author']) ids[p] = await post({ resourceType: 'Practitioner', name: [{ family: p }] });
  ids.pA = await post({ resourceType: 'Patient', identifier: [{ system: INS, value: '1800101000001' }], birthDate: '1980-01-01', generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }] });
  ids.pB = await post({ resourceType: 'Patient', identifier: [{ system: INS, value: '1800101000002' }], birthDate: '1980-01-01' });
  const tenYearsAgo = new Date(Date.now() - 10 * 365 * DAY).toISOString().slice(0, 10);
  ids.pM = await post({ resourceType: 'Patient', birthDate: tenYearsAgo });
  ids.rep = await post({ resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${ids.pM}` }, relationship: [{ coding: [{ system: ROLE, code: 'MTH' }] }] });
  ids.adultRep = await post({ resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${ids.pA}` }, relationship: [{ coding: [{ system: ROLE, code: 'MTH' }] }] });

  const tokens = {
    patientA: await s.token({ fhirUser: `Patient/${ids.pA}`, scope: 'user/*.cruds' }),
    patientB: await s.token({ fhirUser: `Patient/${ids.pB}`, scope: 'user/*.cruds' }),
    patientM: await s.token({ fhirUser: `Patient/${ids.pM}`, scope: 'user/*.cruds' }),
    appA: await s.token({ fhirUser: `Patient/${ids.pA}`, scope: 'patient/*.rs', patient: ids.pA }),
    rep: await s.token({ fhirUser: `RelatedPerson/${ids.rep}`, scope: 'user/*.cruds' }),
    adultRep: await s.token({ fhirUser: `RelatedPerson/${ids.adultRep}`, scope: 'user/*.cruds' }),
    gp: await s.token({ fhirUser: `Practitioner/${ids.gp}`, scope: 'user/*.cruds' }),
    doc: await s.token({ fhirUser: `Practitioner/${ids.doc}`, scope: 'user/*.cruds' }),
    blocked: await s.token({ fhirUser: `Practitioner/${ids.blocked}`, scope: 'user/*.cruds' }),
    stranger: await s.token({ fhirUser: `Practitioner/${ids.stranger}`, scope: 'user/*.cruds' }),
    author: await s.token({ fhirUser: `Practitioner/${ids.author}`, scope: 'user/*.cruds' }),
    btg: await s.token({ fhirUser: `Practitioner/${ids.stranger}`, scope: 'user/*.rs', patient: ids.pA, purpose_of_use: 'BTG' }),
    btgB: await s.token({ fhirUser: `Practitioner/${ids.stranger}`, scope: 'user/*.rs', patient: ids.pB, purpose_of_use: 'BTG' }),
  };
  // The patients' own choices.
  await post(consent(ids.pA, { type: 'permit', actor: [actor(`Practitioner/${ids.doc}`)] }), tokens.patientA);
  await post(consent(ids.pA, { type: 'deny', actor: [actor(`Practitioner/${ids.blocked}`)] }), tokens.patientA);
  await post(consent(ids.pB, { type: 'deny', purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG' }] }), tokens.patientB);

  // Documents of A, written by the author (a professional the patient never named).
  ids.d1 = await post(doc(ids.pA), tokens.author);
  ids.d2 = await post(doc(ids.pA), tokens.author);
  ids.d3 = await post(doc(ids.pA, { securityLabel: [label('INVISIBLE_PATIENT')] }), tokens.author);
  ids.d4 = await post(doc(ids.pA, { securityLabel: [label('INVISIBLE_PATIENT')], date: new Date(Date.now() - 40 * DAY).toISOString() }), tokens.author);
  ids.d5 = await post(doc(ids.pA), system);
  // A masks d2 (label) and d5 (a Consent provision naming it).
  const masked = await s.request({ method: 'PATCH', url: `/fhir/DocumentReference/${ids.d2}`, token: tokens.patientA, body: [{ op: 'add', path: '/securityLabel', value: [label('MASQUE_PS')] }], headers: { 'content-type': 'application/json-patch+json' } });
  expect(masked.status, masked.text).toBe(200);
  await post(consent(ids.pA, { type: 'deny', data: [{ meaning: 'instance', reference: { reference: `DocumentReference/${ids.d5}` } }] }), tokens.patientA);
  ids.oA = await post({ resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient/${ids.pA}` } }, system);
  ids.oB = await post({ resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient/${ids.pB}` } }, system);
  ids.dB = await post(doc(ids.pB, { description: 'B document' }), system);

  // The minor's documents: one hidden from the legal representatives.
  ids.m1 = await post(doc(ids.pM), tokens.author);
  ids.m2 = await post(doc(ids.pM, { securityLabel: [label('INVISIBLE_REPRESENTANTS_LEGAUX')] }), tokens.author);

  // Messages about A: one to A, one between professionals.
  const message = (to: string) => ({ resourceType: 'Communication', status: 'completed', subject: { reference: `Patient/${ids.pA}` }, sender: { reference: `Practitioner/${ids.author}` }, recipient: [{ reference: to }], payload: [{ contentString: 'bonjour' }] });
  ids.c1 = await post(message(`Patient/${ids.pA}`), tokens.author);
  ids.c2 = await post(message(`Practitioner/${ids.gp}`), tokens.author);
  ids.audit = await post({
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    recorded: new Date().toISOString(),
    agent: [{ who: { reference: `Practitioner/${ids.doc}` }, requestor: true }],
    source: { observer: { display: 'carnet' } },
    entity: [{ what: { reference: `Patient/${ids.pA}` } }],
  });
  return { s, system, tokens, ids };
}

/** The ids of the matches of a search, and its total. */
export async function found(w: World, url: string, token: string): Promise<{ ids: string[]; total: number | undefined; status: number }> {
  const res = await w.s.request({ method: 'GET', url, token });
  if (res.status !== 200) return { ids: [], total: undefined, status: res.status };
  const ids = (res.body.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort();
  return { ids, total: res.body.total, status: res.status };
}

export async function status(w: World, method: string, url: string, token: string, body?: unknown, headers?: Record<string, string>): Promise<number> {
  return (await w.s.request({ method, url, token, body, ...(headers ? { headers } : {}) })).status;
}
