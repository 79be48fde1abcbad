import { beforeAll, expect, it } from 'vitest';
import { describeEngines } from '../harness.js';
import { created, search, usePeople } from './people.js';

/**
 * The agenda: appointments the patient notes for themselves or a professional books, and the
 * reminders (CommunicationRequest) beside them, as the prevention scheduler writes them.
 */
const appointment = (start: string, end: string, actors: string[], extra: Record<string, unknown> = {}) => ({
  resourceType: 'Appointment',
  status: 'booked',
  start,
  end,
  participant: actors.map((reference) => ({ actor: { reference }, status: 'accepted' })),
  ...extra,
});
const reminder = (patient: string, start: string, end: string, text: string) => ({
  resourceType: 'CommunicationRequest',
  status: 'active',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/communication-category', code: 'reminder' }] }],
  subject: { reference: `Patient/${patient}` },
  recipient: [{ reference: `Patient/${patient}` }],
  payload: [{ contentString: text }],
  occurrencePeriod: { start, end },
});

describeEngines('the agenda', (engine) => {
  const w = usePeople(engine);
  let p: string;
  let ids: Record<string, string>;
  beforeAll(async () => {
    p = w.ids.patient;
    const me = `Patient/${p}`;
    ids = {
      // A personal reminder: the patient alone.
      bloodTest: await created(w.s, w.tokens.patient, appointment('2026-12-10T08:00:00+01:00', '2026-12-10T08:30:00+01:00', [me], { description: 'Prise de sang à jeun' })),
      // Booked by the médecin traitant; by the cardiologist, waiting for the patient's answer.
      consultation: await created(w.s, w.tokens.gp, appointment('2026-12-14T17:00:00+01:00', '2026-12-14T17:20:00+01:00', [me, `Practitioner/${w.ids.gp}`], { description: 'Consultation de suivi' })),
      echo: await created(w.s, w.tokens.cardio, {
        ...appointment('2027-01-20T10:00:00+01:00', '2027-01-20T10:45:00+01:00', [`Practitioner/${w.ids.cardio}`]),
        status: 'proposed',
        participant: [{ actor: { reference: `Practitioner/${w.ids.cardio}` }, status: 'accepted' }, { actor: { reference: me }, status: 'needs-action' }],
        description: 'Échographie cardiaque',
      }),
      // Another patient's appointment with the same doctor.
      otherPatient: await created(w.s, w.tokens.gp, appointment('2026-12-14T17:20:00+01:00', '2026-12-14T17:40:00+01:00', [`Patient/${w.ids.other}`, `Practitioner/${w.ids.gp}`])),
      // The prevention reminders (written by the scheduler, a system client) and the patient's own.
      screening: await created(w.s, w.system, reminder(p, '2026-12-01', '2027-05-31', 'Dépistage du cancer colorectal : un test est à faire.')),
      dentist: await created(w.s, w.system, reminder(p, '2027-03-01', '2027-12-31', 'Bilan de prévention : pensez à prendre rendez-vous.')),
      mine: await created(w.s, w.tokens.patient, { ...reminder(p, '2026-12-20', '2026-12-20', 'Renouveler l\'ordonnance'), requester: { reference: me } }),
    };
  });

  it('the patient app shows December: appointments and reminders beside them', async () => {
    const appointments = await search(w.s, w.tokens.app, `/fhir/Appointment?patient=${p}&date=ge2026-12-01&date=lt2027-01-01&_sort=date`);
    expect(appointments.body.entry.map((e: any) => e.resource.id)).toEqual([ids.bloodTest, ids.consultation]);
    const reminders = await search(w.s, w.tokens.app, `/fhir/CommunicationRequest?subject=Patient/${p}&occurrence=le2026-12-31&occurrence=ge2026-12-01`);
    expect(reminders.ids).toEqual([ids.mine, ids.screening].sort());
    // Every reminder of the patient, whoever wrote it.
    expect((await search(w.s, w.tokens.app, `/fhir/CommunicationRequest?subject=Patient/${p}&status=active`)).ids).toEqual([ids.dentist, ids.mine, ids.screening].sort());
  });

  it('the agenda tells the patient\'s own notes from what professionals booked', async () => {
    expect((await search(w.s, w.tokens.app, `/fhir/Appointment?patient=${p}&written-by=Patient/${p}`)).ids).toEqual([ids.bloodTest]);
    const booked = await search(w.s, w.tokens.app, `/fhir/Appointment?patient=${p}&written-by=Practitioner/${w.ids.gp},Practitioner/${w.ids.cardio}&_include=Appointment:written-by`);
    expect(booked.ids).toEqual([ids.consultation, ids.echo].sort());
    expect(booked.body.entry.filter((e: any) => e.search.mode === 'include').map((e: any) => e.resource.name[0].family).sort()).toEqual(['Coeur', 'Martin']);
    // What waits for the patient's answer.
    expect((await search(w.s, w.tokens.app, `/fhir/Appointment?patient=${p}&part-status=needs-action`)).ids).toEqual([ids.echo]);
  });

  it('a doctor sees their own agenda across patients, and the patient\'s only where the patient allows it', async () => {
    expect((await search(w.s, w.tokens.gp, `/fhir/Appointment?actor=Practitioner/${w.ids.gp}&date=2026-12-14`)).ids).toEqual([ids.consultation, ids.otherPatient].sort());
    expect((await search(w.s, w.tokens.cardio, `/fhir/Appointment?patient=${p}`)).ids).toEqual([ids.bloodTest, ids.consultation, ids.echo].sort());
    expect((await search(w.s, w.tokens.stranger, `/fhir/Appointment?patient=${p}`)).ids).toEqual([]);
    // Another patient sees none of it.
    expect((await search(w.s, w.tokens.other, `/fhir/Appointment?patient=${p}`)).ids).toEqual([]);
    expect((await w.s.request({ method: 'GET', url: `/fhir/Appointment/${ids.bloodTest}`, token: w.tokens.other })).status).toBe(404);
  });

  it('reminders are messages: the patient\'s doctors do not read them unless addressed to them', async () => {
    expect((await search(w.s, w.tokens.gp, `/fhir/CommunicationRequest?subject=Patient/${p}`)).ids).toEqual([]);
    expect((await search(w.s, w.tokens.other, `/fhir/CommunicationRequest?subject=Patient/${p}`)).ids).toEqual([]);
  });

  it('the patient answers a proposed appointment, and a doctor cannot change what the patient wrote', async () => {
    const echo = (await w.s.request({ method: 'GET', url: `/fhir/Appointment/${ids.echo}`, token: w.tokens.patient })).body;
    echo.participant[1].status = 'accepted';
    echo.status = 'booked';
    const answered = await w.s.request({ method: 'PUT', url: `/fhir/Appointment/${ids.echo}`, token: w.tokens.patient, body: echo });
    expect(answered.status, answered.text).toBe(200);
    expect((await search(w.s, w.tokens.app, `/fhir/Appointment?patient=${p}&part-status=needs-action`)).ids).toEqual([]);
    const note = (await w.s.request({ method: 'GET', url: `/fhir/Appointment/${ids.bloodTest}`, token: w.tokens.gp })).body;
    const changed = await w.s.request({ method: 'PUT', url: `/fhir/Appointment/${ids.bloodTest}`, token: w.tokens.gp, body: { ...note, status: 'cancelled' } });
    expect(changed.status).toBe(403);
  });
});
