import { beforeAll, expect, it } from 'vitest';
import { describeEngines, versionsButAudit } from '../harness.js';
import { created, post, search, usePeople } from './people.js';

/** The vaccination record: what the doctor administered, what the patient reports from their booklet. */
const CIS = 'https://smt.esante.gouv.fr/terminologie-bdpm';
const ATC = 'http://www.whocc.no/atc';
const ORIGIN = 'http://terminology.hl7.org/CodeSystem/immunization-origin';

const vaccination = (patient: string, cis: string, atc: string, date: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Immunization',
  status: 'completed',
  vaccineCode: { coding: [{ system: CIS, code: cis }, { system: ATC, code: atc }] },
  patient: { reference: `Patient/${patient}` },
  occurrenceDateTime: date,
  primarySource: true,
  ...extra,
});
const reported = { primarySource: false, reportOrigin: { coding: [{ system: ORIGIN, code: 'record', display: 'Written Record' }] } };

describeEngines('the vaccination record', (engine) => {
  const w = usePeople(engine);
  let p: string;
  let ids: Record<string, string>;
  beforeAll(async () => {
    p = w.ids.patient;
    ids = {
      // From the patient's vaccination booklet, entered in their app.
      tetanus: await created(w.s, w.tokens.patient, vaccination(p, '64839385', 'J07CA02', '2009-06-15', reported)),
      hpv: await created(w.s, w.tokens.patient, vaccination(p, '61221402', 'J07BM03', '2019-03-01', { ...reported, reportOrigin: { coding: [{ system: ORIGIN, code: 'recall' }] } })),
      // Administered by the médecin traitant.
      flu: await created(w.s, w.tokens.gp, vaccination(p, '69390541', 'J07BB02', '2026-10-20T10:30:00+02:00', {
        performer: [{ actor: { reference: `Practitioner/${w.ids.gp}` } }],
        lotNumber: 'X42',
      })),
    };
  });

  it('the patient enters a past vaccination as a reported one, and finds it by CIS or ATC code', async () => {
    const stored = await w.s.request({ method: 'GET', url: `/fhir/Immunization/${ids.tetanus}`, token: w.tokens.app });
    expect(stored.body).toMatchObject({ primarySource: false, reportOrigin: { coding: [{ code: 'record' }] } });
    const byCis = await search(w.s, w.tokens.app, `/fhir/Immunization?patient=${p}&vaccine-code=${encodeURIComponent(CIS)}|61221402`);
    expect(byCis.ids).toEqual([ids.hpv]);
    const byAtc = await search(w.s, w.tokens.app, `/fhir/Immunization?patient=${p}&vaccine-code=${ATC}|J07BB02`);
    expect(byAtc.ids).toEqual([ids.flu]);
    // Either code, either system, in one search.
    const either = await search(w.s, w.tokens.app, `/fhir/Immunization?patient=${p}&vaccine-code=${ATC}|J07CA02,${encodeURIComponent(CIS)}|61221402`);
    expect(either.ids).toEqual([ids.hpv, ids.tetanus].sort());
  });

  it('searches by date, and tells the patient\'s entries from the doctor\'s', async () => {
    expect((await search(w.s, w.tokens.app, `/fhir/Immunization?patient=${p}&date=ge2019-01-01`)).ids).toEqual([ids.flu, ids.hpv].sort());
    expect((await search(w.s, w.tokens.app, `/fhir/Immunization?patient=${p}&date=lt2010`)).ids).toEqual([ids.tetanus]);
    const sorted = await search(w.s, w.tokens.app, `/fhir/Immunization?patient=${p}&_sort=-date`);
    expect(sorted.body.entry.map((e: any) => e.resource.id)).toEqual([ids.flu, ids.hpv, ids.tetanus]);
    expect((await search(w.s, w.tokens.app, `/fhir/Immunization?patient=${p}&written-by=Patient/${p}`)).ids).toEqual([ids.hpv, ids.tetanus].sort());
    expect((await search(w.s, w.tokens.app, `/fhir/Immunization?patient=${p}&written-by=Practitioner/${w.ids.gp}`)).ids).toEqual([ids.flu]);
  });

  it('the doctors who may read the record see the whole history; others see nothing', async () => {
    expect((await search(w.s, w.tokens.cardio, `/fhir/Immunization?patient=${p}`)).ids).toEqual([ids.flu, ids.hpv, ids.tetanus].sort());
    expect((await search(w.s, w.tokens.stranger, `/fhir/Immunization?patient=${p}`)).ids).toEqual([]);
    expect((await w.s.request({ method: 'GET', url: `/fhir/Immunization/${ids.flu}`, token: w.tokens.stranger })).status).toBe(404);
  });

  it('a patient cannot record a vaccination as administered (primarySource true); nothing is written', async () => {
    const before = await versionsButAudit(w.s, w.system);
    const res = await post(w.s, w.tokens.patient, vaccination(p, '69390541', 'J07BB02', '2026-11-01'));
    expect(res.status).toBe(403);
    expect(res.body.issue[0]).toMatchObject({ code: 'forbidden', expression: ['Immunization.primarySource'] });
    // Nor turn their reported entry into an administered one.
    const read = await w.s.request({ method: 'GET', url: `/fhir/Immunization/${ids.hpv}`, token: w.tokens.patient });
    const { reportOrigin: _origin, ...rest } = read.body;
    expect((await w.s.request({ method: 'PUT', url: `/fhir/Immunization/${ids.hpv}`, token: w.tokens.patient, body: { ...rest, primarySource: true } })).status).toBe(403);
    expect(await versionsButAudit(w.s, w.system)).toBe(before);
  });

  it('a malformed CIS or ATC code is refused with the element named', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [vaccination(p, '6483938', 'J07CA02', '2009-06-15', reported), 'Immunization.vaccineCode.coding[0].code'],
      [vaccination(p, '64839385', 'J7CA02', '2009-06-15', reported), 'Immunization.vaccineCode.coding[1].code'],
      [vaccination(p, '64839385', 'J07CA02', '2009-06-15', { reportOrigin: reported.reportOrigin }), 'Immunization.reportOrigin'],
    ];
    for (const [body, expression] of cases) {
      const res = await post(w.s, w.tokens.gp, body);
      expect(res.status, res.text).toBe(422);
      expect(res.body.issue.map((i: any) => i.expression?.[0])).toContain(expression);
    }
    // A code of another system (CVX, say) is left alone; so is an ATC class above the vaccine.
    expect((await post(w.s, w.tokens.gp, { ...vaccination(p, '64839385', 'J07', '2009-06-15', reported), vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '139' }, { system: ATC, code: 'J07' }] } })).status).toBe(201);
  });
});
