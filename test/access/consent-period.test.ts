import { expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from '../harness.js';
import { actor, consent } from './world.js';

/** A Consent provision holds within its period only: an authorization for a stay, a block that ends. */
describeEngines('access: Consent provision periods', (engine) => {
  let s: TestServer;
  let system: string;
  useServer(engine, (server, token) => {
    s = server;
    system = token;
  });
  const DAY = 24 * 3600 * 1000;
  const day = (offset: number) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);
  const post = async (body: Record<string, unknown>) => {
    const res = await s.request({ method: 'POST', url: `/fhir/${body.resourceType}`, token: system, body });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    return res.body.id as string;
  };
  /** A patient with one Observation, and a professional's token. */
  const setup = async (gp = false) => {
    const pro = await post({ resourceType: 'Practitioner', name: [{ family: 'Leroy' }] });
    const patient = await post({ resourceType: 'Patient', birthDate: '1975-05-05', ...(gp ? { generalPractitioner: [{ reference: `Practitioner/${pro}` }] } : {}) });
    await post({ resourceType: 'Observation', status: 'final', code: { text: 'tension' }, subject: { reference: `Patient/${patient}` } });
    const token = await s.token({ fhirUser: `Practitioner/${pro}`, scope: 'user/*.rs' });
    const seen = async () => ((await s.request({ method: 'GET', url: `/fhir/Observation?patient=${patient}`, token })).body.entry ?? []).length;
    return { pro, patient, seen };
  };

  it('a permit counts from its start to the end of its last day, not before or after', async () => {
    for (const [period, expected] of [
      [{ start: day(-10), end: day(-1) }, 0],
      [{ start: day(1), end: day(10) }, 0],
      [{ start: day(-1), end: day(0) }, 1],
      [{ start: day(-1) }, 1],
      // A month as its end: through its last day.
      [{ end: day(0).slice(0, 7) }, 1],
    ] as const) {
      const { pro, patient, seen } = await setup();
      await post(consent(patient, { type: 'permit', period, actor: [actor(`Practitioner/${pro}`)] }));
      expect(await seen(), JSON.stringify(period)).toBe(expected);
    }
  });

  it('a block that has ended no longer holds; a nested exception outside its period says nothing', async () => {
    const gp = await setup(true);
    await post(consent(gp.patient, { type: 'deny', period: { start: day(-30), end: day(-1) }, actor: [actor(`Practitioner/${gp.pro}`)] }));
    expect(await gp.seen()).toBe(1);
    await post(consent(gp.patient, { type: 'deny', period: { start: day(-1), end: day(30) }, actor: [actor(`Practitioner/${gp.pro}`)] }));
    expect(await gp.seen()).toBe(0);

    const other = await setup();
    await post(consent(other.patient, { type: 'deny', provision: [{ type: 'permit', period: { end: day(-1) }, actor: [actor(`Practitioner/${other.pro}`)] }] }));
    expect(await other.seen()).toBe(0);
  });
});
