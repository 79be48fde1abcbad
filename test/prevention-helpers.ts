import { expect } from 'vitest';
import type { TestServer } from './harness.js';

/** The day the calendar tests read: 10 June 2026, midday in Paris. */
export const NOW = new Date('2026-06-10T10:00:00Z');
export const ATC = 'http://www.whocc.no/atc';
export const CIS = 'https://smt.esante.gouv.fr/terminologie-bdpm';

export async function post(s: TestServer, token: string, body: Record<string, unknown>): Promise<string> {
  const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token, body });
  expect(res.status, res.text.slice(0, 400)).toBe(201);
  return res.body.id;
}

export const patient = (birthDate: string, gender: string, extra: Record<string, unknown> = {}) => ({ resourceType: 'Patient', birthDate, gender, ...extra });

/** A vaccination; `reported` makes it one the patient enters themselves (primarySource false). */
export function vaccination(patientId: string, system: string, code: string, date: string, reported = false): Record<string, unknown> {
  return {
    resourceType: 'Immunization',
    status: 'completed',
    vaccineCode: { coding: [{ system, code }] },
    patient: { reference: `Patient/${patientId}` },
    occurrenceDateTime: date,
    primarySource: !reported,
    ...(reported ? { reportOrigin: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-origin', code: 'recall' }] } } : {}),
  };
}

export const patientToken = (s: TestServer, id: string, scope = 'patient/*.cruds') => s.token({ fhirUser: `Patient/${id}`, scope, patient: id });

/** The plan's actions as `rule: status`, and the parts of each by rule. */
export async function planOf(s: TestServer, token: string, id: string, date?: string) {
  const res = await s.request({ method: 'GET', url: `/fhir/Patient/${id}/$prevention-plan${date ? `?date=${date}` : ''}`, token });
  expect(res.status, res.text.slice(0, 400)).toBe(200);
  const actions = (res.body.parameter as Array<{ name: string; part?: Array<Record<string, any>> }>).filter((p) => p.name === 'action');
  const byRule: Record<string, Record<string, any>> = {};
  for (const a of actions) {
    const parts = Object.fromEntries(a.part!.map((p) => [p.name, p.valueCode ?? p.valueString ?? p.valuePeriod ?? p.valueUri ?? p.valueReference]));
    byRule[parts.rule] = parts;
  }
  const status = Object.fromEntries(Object.entries(byRule).map(([rule, parts]) => [rule, parts.status]));
  return { body: res.body, byRule, status };
}
