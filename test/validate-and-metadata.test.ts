import { expect, it } from 'vitest';
import { createValidator } from '../src/validation/validator.js';
import { SERVED_TYPES } from '../src/fhir/resource-types.js';
import { describeEngines, useServer, type TestServer } from './harness.js';

describeEngines('$validate and the CapabilityStatement', (engine) => {
  let s: TestServer;
  let token: string;
  useServer(engine, (server, admin) => {
    s = server;
    token = admin;
  });

  it('validates at type level without storing anything', async () => {
    const good = await s.request({ method: 'POST', url: '/fhir/Patient/$validate', token, body: { resourceType: 'Patient', name: [{ family: 'Valide' }] } });
    expect(good.status).toBe(200);
    expect(good.body.issue.every((i: any) => i.severity === 'information' || i.severity === 'warning')).toBe(true);
    const bad = await s.request({
      method: 'POST', url: '/fhir/DocumentReference/$validate', token,
      body: { resourceType: 'DocumentReference', content: [{ attachment: { contentType: 'application/pdf' } }] },
    });
    expect(bad.status).toBe(200);
    const errors = bad.body.issue.filter((i: any) => i.severity === 'error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.flatMap((i: any) => i.expression)).toContain('DocumentReference.status');
    const wrapped = await s.request({
      method: 'POST', url: '/fhir/Patient/$validate', token,
      body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', gender: 'sometimes' } }] },
    });
    expect(wrapped.body.issue.some((i: any) => i.severity === 'error' && i.expression?.includes('Patient.gender'))).toBe(true);
    // Only the access history of these requests was written.
    const history = await s.request({ method: 'GET', url: '/fhir/_history?_count=100', token });
    expect(history.body.total).toBeGreaterThan(0);
    expect(history.body.entry.filter((e: any) => e.resource?.resourceType !== 'AuditEvent')).toEqual([]);
  });

  it('validates a stored resource at instance level', async () => {
    const { body } = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'Stocké' }] } });
    const res = await s.request({ method: 'POST', url: `/fhir/Patient/${body.id}/$validate`, token });
    expect(res.status).toBe(200);
    expect(res.body.issue.filter((i: any) => i.severity === 'error')).toEqual([]);
    expect((await s.request({ method: 'POST', url: '/fhir/Patient/unknown-id/$validate', token })).status).toBe(404);
  });

  it('publishes a CapabilityStatement generated from what is registered, valid against R4', async () => {
    const res = await s.request({ method: 'GET', url: '/fhir/metadata' });
    expect(res.status).toBe(200);
    const cs = res.body;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.rest[0].resource.map((r: any) => r.type)).toEqual([...SERVED_TYPES]);
    const patient = cs.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(patient.interaction.map((i: any) => i.code)).toEqual(expect.arrayContaining(['read', 'vread', 'create', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'search-type']));
    expect(patient.operation.map((o: any) => o.name)).toContain('validate');
    expect(patient.searchParam.map((p: any) => p.name)).toEqual(expect.arrayContaining(['identifier', 'family', 'birthdate']));
    expect(cs.rest[0].security.service[0].coding[0].code).toBe('SMART-on-FHIR');
    // The profiles carnet checks, each under its type; none where it checks none.
    const supported = (type: string) => cs.rest[0].resource.find((r: any) => r.type === type).supportedProfile;
    const MHD = 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/';
    expect(supported('DocumentReference')).toEqual(expect.arrayContaining([`${MHD}IHE.MHD.Minimal.DocumentReference`, 'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-comprehensive-document-reference']));
    expect(supported('List')).toEqual(expect.arrayContaining([`${MHD}IHE.MHD.Minimal.SubmissionSet`, `${MHD}IHE.MHD.Minimal.Folder`]));
    expect(supported('List')).not.toContain(`${MHD}IHE.MHD.Minimal.DocumentReference`);
    expect(supported('Patient')).toBeUndefined();
    const { issues } = createValidator().validate(cs);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
  });
});
