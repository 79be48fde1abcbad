import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, startServer, type TestServer } from '../harness.js';
import { actor, consent, label } from './world.js';

/*
 * Random records, professionals, representatives, consents and labels: what the server answers to
 * every actor must equal a brute-force evaluation of the access rules over the generated world.
 * The evaluator below is written from the rules (README, "Who sees what"), not from src/access.
 */

const DAY = 24 * 3600 * 1000;
const LABELS = ['MASQUE_PS', 'INVISIBLE_PATIENT', 'INVISIBLE_REPRESENTANTS_LEGAUX'] as const;
type Label = (typeof LABELS)[number];

interface PatientSpec { minor: boolean; gp?: number }
interface DocSpec { patient: number; author?: number; labels: Label[]; old: boolean }
type ConsentSpec =
  | { kind: 'permit' | 'block'; patient: number; pro: number }
  | { kind: 'oppose'; patient: number }
  | { kind: 'mask'; patient: number; doc: number };
/** An appointment in one to three patients' records (a couple, a family seen together). */
interface ApptSpec { patients: number[]; author?: number }
interface WorldSpec { patients: PatientSpec[]; docs: DocSpec[]; consents: ConsentSpec[]; appts: ApptSpec[] }

const PROS = 3;
const worldArb: fc.Arbitrary<WorldSpec> = fc.record({
  patients: fc.array(fc.record({ minor: fc.boolean(), gp: fc.option(fc.nat(PROS - 1), { nil: undefined }) }), { minLength: 2, maxLength: 3 }),
  docs: fc.array(
    fc.record({ patient: fc.nat(2), author: fc.option(fc.nat(PROS - 1), { nil: undefined }), labels: fc.subarray([...LABELS]), old: fc.boolean() }),
    { minLength: 1, maxLength: 6 },
  ),
  consents: fc.array(
    fc.oneof(
      fc.record({ kind: fc.constantFrom('permit' as const, 'block' as const), patient: fc.nat(2), pro: fc.nat(PROS - 1) }),
      fc.record({ kind: fc.constant('oppose' as const), patient: fc.nat(2) }),
      fc.record({ kind: fc.constant('mask' as const), patient: fc.nat(2), doc: fc.nat(5) }),
    ),
    { maxLength: 6 },
  ),
  appts: fc.array(fc.record({ patients: fc.subarray([0, 1, 2], { minLength: 1 }), author: fc.option(fc.nat(PROS - 1), { nil: undefined }) }), { maxLength: 3 }),
}).map((w) => ({
  ...w,
  appts: w.appts.map((a) => ({ ...a, patients: [...new Set(a.patients.map((p) => p % w.patients.length))] })),
  docs: w.docs.map((d) => ({ ...d, patient: d.patient % w.patients.length })),
  consents: w.consents.map((c) => ({ ...c, patient: c.patient % w.patients.length })).filter((c) => c.kind !== 'mask' || c.doc < w.docs.length),
}));

// ---------- the independent evaluator ----------

type Who = { kind: 'patient'; p: number } | { kind: 'rep'; p: number } | { kind: 'pro'; z: number; btgFor?: number };

function sees(w: WorldSpec, who: Who, d: number): boolean {
  const doc = w.docs[d];
  const has = (l: Label) => doc.labels.includes(l);
  const embargoed = has('INVISIBLE_PATIENT') && !doc.old;
  if (who.kind === 'patient') return doc.patient === who.p && !embargoed;
  if (who.kind === 'rep') return doc.patient === who.p && w.patients[who.p].minor && !embargoed && !has('INVISIBLE_REPRESENTANTS_LEGAUX');
  if (doc.author === who.z) return true;
  const ofPatient = w.consents.filter((c) => c.patient === doc.patient);
  if (ofPatient.some((c) => c.kind === 'block' && c.pro === who.z)) return false;
  if (w.patients[doc.patient].gp === who.z) return true;
  const permitted = ofPatient.some((c) => c.kind === 'permit' && c.pro === who.z);
  const emergency = who.btgFor === doc.patient && !ofPatient.some((c) => c.kind === 'oppose');
  const masked = has('MASQUE_PS') || ofPatient.some((c) => c.kind === 'mask' && c.doc === d);
  return (permitted || emergency) && !masked;
}

/**
 * An appointment is in each of its patients' records: a patient (or a minor's representative) sees
 * it when it is in their record; a professional who wrote it sees it; any other professional sees
 * it through one of its patients who reaches them (médecin traitant, authorization, emergency) when
 * none of its patients blocks them. `via`: the patients whose reach counts. A request that names
 * patients reads the facts of those alone (README, "Known limits"), so there an appointment shows
 * through the named patients only; a block by any of its patients holds however the request asks.
 */
function seesAppt(w: WorldSpec, who: Who, a: number, via: number[]): boolean {
  const appt = w.appts[a];
  if (who.kind === 'patient') return appt.patients.includes(who.p);
  if (who.kind === 'rep') return appt.patients.includes(who.p) && w.patients[who.p].minor;
  if (appt.author === who.z) return true;
  if (w.consents.some((c) => c.kind === 'block' && c.pro === who.z && appt.patients.includes(c.patient))) return false;
  return appt.patients.filter((p) => via.includes(p)).some((p) =>
    w.patients[p].gp === who.z
    || w.consents.some((c) => c.kind === 'permit' && c.pro === who.z && c.patient === p)
    || (who.btgFor === p && !w.consents.some((c) => c.kind === 'oppose' && c.patient === p)));
}

// ---------- building the world through HTTP ----------

describeEngines('access: the server agrees with a brute-force evaluation of the rules (property)', (engine) => {
  let s: TestServer;
  let system: string;
  beforeAll(async () => {
    s = await startServer(engine);
    system = await s.token({ scope: 'system/*.cruds' });
  });
  afterAll(async () => s?.close());

  const post = async (body: Record<string, unknown>, token = system): Promise<string> => {
    const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token, body });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    return res.body.id;
  };

  it('every actor sees exactly what the rules allow, in searches across patients, within one patient, and by id', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (w) => {
        const pros = await Promise.all(Array.from({ length: PROS }, () => post({ resourceType: 'Practitioner' })));
        const now = Date.now();
        const patients: string[] = [];
        for (const p of w.patients) {
          const birth = new Date(now - (p.minor ? 10 : 40) * 365 * DAY).toISOString().slice(0, 10);
          patients.push(await post({ resourceType: 'Patient', birthDate: birth, ...(p.gp !== undefined ? { generalPractitioner: [{ reference: `Practitioner/${pros[p.gp]}` }] } : {}) }));
        }
        const reps = await Promise.all(patients.map((pid) => post({ resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${pid}` }, relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'PRN' }] }] })));
        const proToken = (z: number, extra: Record<string, string> = {}) => s.token({ fhirUser: `Practitioner/${pros[z]}`, scope: 'user/*.cruds', ...extra });
        const docs: string[] = [];
        for (const d of w.docs) {
          const authored = d.labels.filter((l) => l !== 'MASQUE_PS').map(label);
          const body = {
            resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${patients[d.patient]}` },
            date: new Date(now - (d.old ? 40 : 1) * DAY).toISOString(),
            content: [{ attachment: { contentType: 'text/plain', data: 'eA==' } }],
            ...(authored.length ? { securityLabel: authored } : {}),
          };
          const id = await post(body, d.author !== undefined ? await proToken(d.author) : system);
          if (d.labels.includes('MASQUE_PS')) {
            const patient = await s.token({ fhirUser: `Patient/${patients[d.patient]}`, scope: 'user/*.cruds' });
            // The patient masks it; a document under embargo is out of the patient's sight, so a system client does.
            const token = d.labels.includes('INVISIBLE_PATIENT') && !d.old ? system : patient;
            const op = authored.length ? { op: 'add', path: '/securityLabel/-', value: label('MASQUE_PS') } : { op: 'add', path: '/securityLabel', value: [label('MASQUE_PS')] };
            const res = await s.request({ method: 'PATCH', url: `/fhir/DocumentReference/${id}`, token, body: [op], headers: { 'content-type': 'application/json-patch+json' } });
            expect(res.status, res.text.slice(0, 300)).toBe(200);
          }
          docs.push(id);
        }
        const appts: string[] = [];
        for (const a of w.appts) {
          const participant = a.patients.map((p) => ({ actor: { reference: `Patient/${patients[p]}` }, status: 'accepted' }));
          appts.push(await post({ resourceType: 'Appointment', status: 'proposed', participant }, a.author !== undefined ? await proToken(a.author) : system));
        }
        for (const c of w.consents) {
          const provision =
            c.kind === 'permit' ? { type: 'permit', actor: [actor(`Practitioner/${pros[c.pro]}`)] }
            : c.kind === 'block' ? { type: 'deny', actor: [actor(`Practitioner/${pros[c.pro]}`)] }
            : c.kind === 'oppose' ? { type: 'deny', purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'BTG' }] }
            : { type: 'deny', data: [{ meaning: 'instance', reference: { reference: `DocumentReference/${docs[(c as { doc: number }).doc]}` } }] };
          await post(consent(patients[c.patient], provision));
        }

        const actors: Array<[Who, string]> = [];
        for (const [p, pid] of patients.entries()) {
          actors.push([{ kind: 'patient', p }, await s.token({ fhirUser: `Patient/${pid}`, scope: 'user/*.cruds' })]);
          actors.push([{ kind: 'rep', p }, await s.token({ fhirUser: `RelatedPerson/${reps[p]}`, scope: 'user/*.cruds' })]);
        }
        for (let z = 0; z < PROS; z++) {
          actors.push([{ kind: 'pro', z }, await proToken(z)]);
          for (const [p, pid] of patients.entries()) actors.push([{ kind: 'pro', z, btgFor: p }, await proToken(z, { patient: pid, purpose_of_use: 'BTG' })]);
        }
        const mine = new Set(docs);
        const everyone = patients.map((_, p) => p);
        const ours = new Set(appts);
        for (const [who, token] of actors) {
          const expected = docs.filter((_, d) => sees(w, who, d)).sort();
          const label = JSON.stringify(who);
          const across = await s.request({ method: 'GET', url: '/fhir/DocumentReference?_count=1000&_total=accurate', token });
          const got = (across.body.entry ?? []).map((e: any) => e.resource.id).filter((id: string) => mine.has(id)).sort();
          expect(got, `${label} across patients`).toEqual(expected);
          for (const [p, pid] of patients.entries()) {
            const one = await s.request({ method: 'GET', url: `/fhir/DocumentReference?patient=${pid}&_total=accurate`, token });
            const ids = (one.body.entry ?? []).map((e: any) => e.resource.id).sort();
            const want = docs.filter((_, d) => w.docs[d].patient === p && sees(w, who, d)).sort();
            expect(ids, `${label} patient ${p}`).toEqual(want);
            expect(one.body.total, `${label} patient ${p} total`).toBe(want.length);
          }
          for (const [d, id] of docs.entries()) {
            const read = await s.request({ method: 'GET', url: `/fhir/DocumentReference/${id}`, token });
            expect(read.status, `${label} reads doc ${d}`).toBe(sees(w, who, d) ? 200 : 404);
          }
          const allAppts = await s.request({ method: 'GET', url: '/fhir/Appointment?_count=1000&_total=accurate', token });
          const gotAppts = (allAppts.body.entry ?? []).map((e: any) => e.resource.id).filter((id: string) => ours.has(id)).sort();
          expect(gotAppts, `${label} appointments across patients`).toEqual(appts.filter((_, a) => seesAppt(w, who, a, everyone)).sort());
          const launch = who.kind === 'pro' && who.btgFor !== undefined ? [who.btgFor] : [];
          for (const [p, pid] of patients.entries()) {
            const one = await s.request({ method: 'GET', url: `/fhir/Appointment?patient=${pid}&_total=accurate`, token });
            const want = appts.filter((_, a) => w.appts[a].patients.includes(p) && seesAppt(w, who, a, [p, ...launch])).sort();
            expect((one.body.entry ?? []).map((e: any) => e.resource.id).sort(), `${label} appointments of patient ${p}`).toEqual(want);
            expect(one.body.total, `${label} appointments of patient ${p}, total`).toBe(want.length);
          }
          for (const [a, id] of appts.entries()) {
            const read = await s.request({ method: 'GET', url: `/fhir/Appointment/${id}`, token });
            expect(read.status, `${label} reads appointment ${a}`).toBe(seesAppt(w, who, a, everyone) ? 200 : 404);
          }
        }
      }),
      {
        // FerretDB answers an order of magnitude slower: there the two examples and one random world.
        // FerretDB answers far slower (three random worlds took 584 s of the 600 alone): there the two examples and one random world.
        numRuns: engine === 'lmdb' ? 12 : 1,
        // Found by this test: a Consent of one patient naming another patient's document masked it.
        examples: [
          [{ patients: [{ minor: false }, { minor: false }], docs: [{ patient: 0, labels: [], old: false }], consents: [{ kind: 'mask', patient: 1, doc: 0 }, { kind: 'permit', patient: 0, pro: 0 }], appts: [] }],
          // An appointment of two patients, the professional authorized by one and blocked by the other.
          [{ patients: [{ minor: false }, { minor: true, gp: 1 }], docs: [{ patient: 0, labels: [], old: false }], consents: [{ kind: 'permit', patient: 0, pro: 0 }, { kind: 'block', patient: 1, pro: 0 }], appts: [{ patients: [0, 1] }, { patients: [0] }] }],
        ],
      },
    );
  }, 600_000);
});
