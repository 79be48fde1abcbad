import { beforeAll, expect } from 'vitest';
import { useServer, type Engine, type TestServer } from '../harness.js';
import { actor, consent } from '../access/world.js';

/**
 * The people of the record tests, set up as a deployment would: a patient whose médecin traitant
 * is Dr Martin, a cardiologist the patient authorized, a doctor nobody named, and a pharmacist
 * working at a pharmacy (a PractitionerRole at the Organization).
 */
export interface People {
  s: TestServer;
  system: string;
  ids: Record<'patient' | 'other' | 'gp' | 'cardio' | 'stranger' | 'pharmacist' | 'pharmacy' | 'otherPharmacy' | 'pharmacistRole', string>;
  tokens: Record<'patient' | 'other' | 'app' | 'gp' | 'cardio' | 'stranger' | 'pharmacist', string>;
}

export async function post(s: TestServer, token: string, body: Record<string, unknown>): Promise<{ status: number; body: any; text: string }> {
  return s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token, body });
}

export async function created(s: TestServer, token: string, body: Record<string, unknown>): Promise<string> {
  const res = await post(s, token, body);
  expect(res.status, res.text.slice(0, 600)).toBe(201);
  return res.body.id;
}

/** The ids of a search's matches, sorted, with its total (or the status when it is not 200). */
export async function search(s: TestServer, token: string, url: string): Promise<{ status: number; ids: string[]; total?: number; body: any }> {
  const res = await s.request({ method: 'GET', url, token });
  if (res.status !== 200) return { status: res.status, ids: [], body: res.body };
  const ids = (res.body.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort();
  return { status: 200, ids, total: res.body.total, body: res.body };
}

export async function setUp(s: TestServer, system: string): Promise<People> {
  const make = (body: Record<string, unknown>) => created(s, system, body);
  const ids = {} as People['ids'];
  ids.gp = await make({ resourceType: 'Practitioner', name: [{ family: 'Martin', prefix: ['Dr'] }] });
  ids.cardio = await make({ resourceType: 'Practitioner', name: [{ family: 'Coeur', prefix: ['Dr'] }] });
  ids.stranger = await make({ resourceType: 'Practitioner', name: [{ family: 'Inconnu' }] });
  ids.pharmacist = await make({ resourceType: 'Practitioner', name: [{ family: 'Officine' }] });
  ids.pharmacy = await make({ resourceType: 'Organization', name: 'Pharmacie du Centre' });
  ids.otherPharmacy = await make({ resourceType: 'Organization', name: 'Pharmacie de la Gare' });
  ids.pharmacistRole = await make({
    resourceType: 'PractitionerRole',
    active: true,
    practitioner: { reference: `Practitioner/${ids.pharmacist}` },
    organization: { reference: `Organization/${ids.pharmacy}` },
    code: [{ coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante', code: '21' }] }],
  });
  ids.patient = await make({ resourceType: 'Patient', name: [{ family: 'Durand', given: ['Alice'] }], birthDate: '1974-05-02', gender: 'female', generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }] });
  ids.other = await make({ resourceType: 'Patient', name: [{ family: 'Petit' }], birthDate: '1990-01-01' });
  const tokens: People['tokens'] = {
    patient: await s.token({ fhirUser: `Patient/${ids.patient}`, scope: 'patient/*.cruds', patient: ids.patient }),
    other: await s.token({ fhirUser: `Patient/${ids.other}`, scope: 'patient/*.cruds', patient: ids.other }),
    app: await s.token({ fhirUser: `Patient/${ids.patient}`, scope: 'patient/*.rs', patient: ids.patient }),
    gp: await s.token({ fhirUser: `Practitioner/${ids.gp}`, scope: 'user/*.cruds' }),
    cardio: await s.token({ fhirUser: `Practitioner/${ids.cardio}`, scope: 'user/*.cruds' }),
    stranger: await s.token({ fhirUser: `Practitioner/${ids.stranger}`, scope: 'user/*.cruds' }),
    pharmacist: await s.token({ fhirUser: `Practitioner/${ids.pharmacist}`, scope: 'user/*.cruds' }),
  };
  // The patient authorizes the cardiologist.
  await created(s, tokens.patient, consent(ids.patient, { type: 'permit', actor: [actor(`Practitioner/${ids.cardio}`)] }));
  return { s, system, ids, tokens };
}

/**
 * The people of the enclosing describe block: its server started and `setUp` run once, before its
 * tests and before the block's own beforeAll hooks (registered after this call, they run after it).
 * The object returned is filled in place then; until then it is empty.
 */
export function usePeople(engine: Engine): People {
  const w = {} as People;
  useServer(engine, (server, system) => {
    w.s = server;
    w.system = system;
  });
  beforeAll(async () => {
    Object.assign(w, await setUp(w.s, w.system));
  });
  return w;
}
