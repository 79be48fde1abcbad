import type { Readable } from 'node:stream';
import { fhirError } from '../errors.js';
import { PATIENT_REFERENCE, type Resource } from '../fhir/resource-types.js';
import type { BlobInfo, CurrentRecord } from '../store/store.js';
import { checkAttachments } from './attachments.js';
import { storeBinaryContent } from './binary.js';
import { checkSubscription } from '../subscriptions/check.js';
import type { Context, FhirRequest } from './types.js';

/** A raw body is read once: a re-planned request (after a conflict) reuses its blob. */
const rawBlobs = new WeakMap<FhirRequest, { resource: Resource; blob?: BlobInfo }>();

/** The compartments a Binary inherits from its securityContext (a Patient, or a resource of one). */
async function binaryCompartments(resource: Resource, ctx: Context): Promise<string[]> {
  const ref = (resource.securityContext as { reference?: string } | undefined)?.reference;
  if (!ref) return [];
  if (PATIENT_REFERENCE.test(ref)) return [ref];
  const known = ctx.transaction?.compartments.get(ref);
  if (known) return known;
  const [type, id] = ref.split('/');
  const target = type && id ? await ctx.store.read(type, id) : undefined;
  return target && !target.deleted ? target.comp : [];
}

/**
 * What a resource needs before it becomes a record: a Binary's content goes to a blob (from its
 * base64 data, or from the raw request body), a DocumentReference's attachment sizes and hashes are
 * checked against the bytes.
 */
export async function prepareForStorage(resource: Resource, id: string, req: FhirRequest, ctx: Context): Promise<Resource> {
  if (resource.resourceType === 'Binary') {
    let stored = rawBlobs.get(req);
    if (!stored) {
      stored = await storeBinaryContent(resource, ctx, req.raw as Readable | undefined);
      if (req.raw) rawBlobs.set(req, stored);
    }
    if (stored.blob) ctx.transaction?.blobs.set(`Binary/${id}`, stored.blob);
    return stored.resource;
  }
  if (resource.resourceType === 'Subscription') return checkSubscription(resource, ctx);
  await checkAttachments(resource, ctx);
  return resource.resourceType === 'Consent' ? resolveConsentPatient(resource, ctx) : resource;
}

/**
 * A professional who has the patient in front of them records their authorization knowing only the
 * patient's identifier (INS): the server finds the Patient. This tells the writer only whether the
 * identifier is known, nothing of the record.
 */
async function resolveConsentPatient(consent: Resource, ctx: Context): Promise<Resource> {
  const patient = consent.patient as { reference?: string; identifier?: { system?: string; value?: string } } | undefined;
  const identifier = patient?.identifier;
  if (!patient || patient.reference !== undefined || typeof identifier?.value !== 'string') return consent;
  const entry = { p: 'identifier', c: identifier.value, ...(typeof identifier.system === 'string' ? { s: identifier.system } : {}) };
  const { records } = await ctx.store.search({ types: ['Patient'], filter: { idx: { $elemMatch: entry } }, sort: [], offset: 0, limit: 2, count: false });
  if (records.length !== 1) {
    throw fhirError('invalid-resource', records.length === 0 ? 'No patient has the identifier in Consent.patient.identifier' : 'Several patients have the identifier in Consent.patient.identifier', 'Consent.patient.identifier');
  }
  return { ...consent, patient: { ...patient, reference: `Patient/${records[0].id}` } };
}

/**
 * The record's compartments, with those a Binary inherits; a Subscription written under patient
 * scopes joins that patient's compartment, where such a token may write and read it (it stays
 * visible to its writers alone: src/access/clauses.ts).
 */
export async function withInheritedCompartments(record: CurrentRecord, ctx: Context): Promise<CurrentRecord> {
  if (record.type === 'Subscription' && ctx.grant.compartment) return { ...record, comp: [...new Set([...record.comp, ctx.grant.compartment])] };
  if (record.type !== 'Binary' || !record.resource) return record;
  const inherited = await binaryCompartments(record.resource, ctx);
  return inherited.length ? { ...record, comp: [...new Set([...record.comp, ...inherited])] } : record;
}
