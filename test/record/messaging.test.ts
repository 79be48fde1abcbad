import { beforeAll, expect, it } from 'vitest';
import { describeEngines, versionsButAudit } from '../harness.js';
import { created, post, search, usePeople } from './people.js';

/**
 * Secure messaging: a thread between the médecin traitant and the patient with a report attached,
 * and a prescription the patient sends to their pharmacy, which a pharmacist working there reads.
 */
const LOINC = 'http://loinc.org';

const message = (from: string, to: string[], subject: string, text: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Communication',
  status: 'completed',
  subject: { reference: subject },
  sender: { reference: from },
  recipient: to.map((reference) => ({ reference })),
  sent: new Date().toISOString(),
  payload: [{ contentString: text }],
  ...extra,
});
const document = (patient: string, code: string, text: string) => ({
  resourceType: 'DocumentReference',
  status: 'current',
  type: { coding: [{ system: LOINC, code }] },
  subject: { reference: `Patient/${patient}` },
  date: new Date().toISOString(),
  content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(text).toString('base64') } }],
});

describeEngines('secure messaging', (engine) => {
  const w = usePeople(engine);
  let p: string;
  let me: string;
  let gp: string;
  let ids: Record<string, string>;
  let formerPharmacist: string;
  let colleague: string;
  beforeAll(async () => {
    p = w.ids.patient;
    me = `Patient/${p}`;
    gp = `Practitioner/${w.ids.gp}`;
    const pharmacy = `Organization/${w.ids.pharmacy}`;
    // A pharmacist who left the pharmacy last year, and one working at another pharmacy.
    const former = await created(w.s, w.system, { resourceType: 'Practitioner', name: [{ family: 'Ancien' }] });
    await created(w.s, w.system, { resourceType: 'PractitionerRole', practitioner: { reference: `Practitioner/${former}` }, organization: { reference: pharmacy }, period: { start: '2015-01-01', end: '2025-06-30' } });
    formerPharmacist = await w.s.token({ fhirUser: `Practitioner/${former}`, scope: 'user/*.cruds' });
    const elsewhere = await created(w.s, w.system, { resourceType: 'Practitioner', name: [{ family: 'Gare' }] });
    await created(w.s, w.system, { resourceType: 'PractitionerRole', active: true, practitioner: { reference: `Practitioner/${elsewhere}` }, organization: { reference: `Organization/${w.ids.otherPharmacy}` } });
    colleague = await w.s.token({ fhirUser: `Practitioner/${elsewhere}`, scope: 'user/*.cruds' });

    ids = {
      report: await created(w.s, w.tokens.gp, document(p, '11502-2', 'Bilan sanguin : normal.')),
      prescription: await created(w.s, w.tokens.gp, document(p, '57833-6', 'Amoxicilline 1 g, 3 fois par jour, 6 jours.')),
      unrelated: await created(w.s, w.tokens.gp, document(p, '11488-4', 'Compte rendu de consultation.')),
    };
    // The thread: the doctor writes, with the report attached; the patient answers; the doctor again.
    ids.first = await created(w.s, w.tokens.gp, message(gp, [me], me, 'Vos résultats sont arrivés, ils sont normaux.', {
      payload: [{ contentString: 'Vos résultats sont arrivés, ils sont normaux.' }, { contentReference: { reference: `DocumentReference/${ids.report}` } }],
    }));
    ids.answer = await created(w.s, w.tokens.patient, message(me, [gp], me, 'Merci docteur. Faut-il un contrôle ?', {
      inResponseTo: [{ reference: `Communication/${ids.first}` }],
      partOf: [{ reference: `Communication/${ids.first}` }],
    }));
    ids.last = await created(w.s, w.tokens.gp, message(gp, [me], me, 'Dans un an.', {
      inResponseTo: [{ reference: `Communication/${ids.answer}` }],
      partOf: [{ reference: `Communication/${ids.first}` }],
    }));
    // The prescription, sent by the patient to their pharmacy; the pharmacist answers for the pharmacy.
    ids.toPharmacy = await created(w.s, w.tokens.patient, message(me, [pharmacy], me, 'Bonjour, voici mon ordonnance.', {
      payload: [{ contentString: 'Bonjour, voici mon ordonnance. Je passe demain.' }, { contentReference: { reference: `DocumentReference/${ids.prescription}` } }],
    }));
    ids.pharmacyAnswer = await created(w.s, w.tokens.pharmacist, message(pharmacy, [me], me, 'Votre traitement est prêt.', {
      inResponseTo: [{ reference: `Communication/${ids.toPharmacy}` }],
    }));
    // The doctor forwards the patient's report to a colleague the patient never authorized.
    ids.forward = await created(w.s, w.tokens.gp, message(gp, [`Practitioner/${w.ids.stranger}`], me, 'Avis ?', {
      payload: [{ contentReference: { reference: `DocumentReference/${ids.unrelated}` } }],
    }));
  });

  it('the patient reads the thread in order, and the report it carries', async () => {
    const thread = await search(w.s, w.tokens.app, `/fhir/Communication?part-of=Communication/${ids.first}&_sort=sent`);
    expect(thread.body.entry.map((e: any) => e.resource.id)).toEqual([ids.answer, ids.last]);
    expect(thread.body.entry[1].resource.inResponseTo).toEqual([{ reference: `Communication/${ids.answer}` }]);
    const withStart = await search(w.s, w.tokens.app, `/fhir/Communication?_id=${ids.first}&_revinclude=Communication:part-of`);
    expect(withStart.body.entry.length).toBe(3);
    const attached = withStart.body.entry[0].resource.payload[1].contentReference.reference;
    expect((await w.s.request({ method: 'GET', url: `/fhir/${attached}`, token: w.tokens.app })).status).toBe(200);
    // Every message the patient is a party to (the server's notifications to them set apart).
    expect((await search(w.s, w.tokens.app, `/fhir/Communication?subject=Patient/${p}&category:not=http://terminology.hl7.org/CodeSystem/communication-category|notification`)).ids).toEqual([ids.answer, ids.first, ids.last, ids.pharmacyAnswer, ids.toPharmacy].sort());
  });

  it('a pharmacist reads what the patient sent their pharmacy, and the prescription attached, nothing else', async () => {
    const inbox = await search(w.s, w.tokens.pharmacist, `/fhir/Communication?recipient=Organization/${w.ids.pharmacy}`);
    expect(inbox.ids).toEqual([ids.toPharmacy]);
    const rx = await w.s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.prescription}`, token: w.tokens.pharmacist });
    expect(rx.status).toBe(200);
    expect(Buffer.from(rx.body.content[0].attachment.data, 'base64').toString()).toContain('Amoxicilline');
    // The record itself stays closed: the other documents, the thread with the doctor.
    expect((await search(w.s, w.tokens.pharmacist, `/fhir/DocumentReference?patient=${p}`)).ids).toEqual([ids.prescription]);
    expect((await w.s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.report}`, token: w.tokens.pharmacist })).status).toBe(404);
    expect((await w.s.request({ method: 'GET', url: `/fhir/Communication/${ids.first}`, token: w.tokens.pharmacist })).status).toBe(404);
    expect((await search(w.s, w.tokens.pharmacist, `/fhir/Communication?subject=Patient/${p}`)).ids).toEqual([ids.pharmacyAnswer, ids.toPharmacy].sort());
  });

  it('no one outside the conversation reads it: another pharmacy, a former employee, a doctor the patient authorized', async () => {
    for (const token of [colleague, formerPharmacist]) {
      expect((await search(w.s, token, `/fhir/Communication?recipient=Organization/${w.ids.pharmacy}`)).ids).toEqual([]);
      expect((await w.s.request({ method: 'GET', url: `/fhir/Communication/${ids.toPharmacy}`, token })).status).toBe(404);
      expect((await w.s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.prescription}`, token })).status).toBe(404);
    }
    // The cardiologist may read the record, but not the patient's correspondence with others.
    expect((await search(w.s, w.tokens.cardio, `/fhir/Communication?subject=Patient/${p}`)).ids).toEqual([]);
    expect((await w.s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.prescription}`, token: w.tokens.cardio })).status).toBe(200);
  });

  it('a recipient professional reads the message, but a document only the patient can share', async () => {
    expect((await search(w.s, w.tokens.stranger, `/fhir/Communication?recipient=Practitioner/${w.ids.stranger}`)).ids).toEqual([ids.forward]);
    expect((await w.s.request({ method: 'GET', url: `/fhir/DocumentReference/${ids.unrelated}`, token: w.tokens.stranger })).status).toBe(404);
    expect((await search(w.s, w.tokens.stranger, `/fhir/DocumentReference?patient=${p}`)).ids).toEqual([]);
  });

  it('nobody sends a message in someone else\'s name', async () => {
    const before = await versionsButAudit(w.s, w.system);
    const asDoctor = await post(w.s, w.tokens.patient, message(gp, [`Practitioner/${w.ids.cardio}`], me, 'Prescrivez-moi ceci.'));
    expect(asDoctor.status).toBe(403);
    expect(asDoctor.body.issue[0].expression).toEqual(['Communication.sender']);
    const asPharmacy = await post(w.s, colleague, message(`Organization/${w.ids.pharmacy}`, [me], me, 'Votre traitement est prêt.'));
    expect(asPharmacy.status).toBe(403);
    const asPatient = await post(w.s, w.tokens.gp, message(me, [`Practitioner/${w.ids.cardio}`], me, 'Je vais mieux.'));
    expect(asPatient.status).toBe(403);
    expect(await versionsButAudit(w.s, w.system)).toBe(before);
  });

  it('a message without its payload or with a bad status is refused, nothing written', async () => {
    const before = await versionsButAudit(w.s, w.system);
    const noStatus = await post(w.s, w.tokens.patient, { ...message(me, [gp], me, 'x'), status: undefined });
    expect(noStatus.status).toBe(422);
    expect(noStatus.body.resourceType).toBe('OperationOutcome');
    const badAttachment = await post(w.s, w.tokens.patient, message(me, [gp], me, 'x', { payload: [{ contentReference: { reference: 'not a reference' } }] }));
    expect(badAttachment.status).toBe(422);
    expect(await versionsButAudit(w.s, w.system)).toBe(before);
  });
});
