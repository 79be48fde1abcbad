import { expect, it } from 'vitest';
import { describeEngines, useServer, type TestServer } from './harness.js';

/**
 * What the HL7 validator (org.hl7.fhir.validation, R4) refuses carnet refuses on write with a 422
 * naming the element, and `$validate` says the same; what it accepts carnet stores and serves back.
 */
const XHTML = 'http://www.w3.org/1999/xhtml';
const narrative = (div: string) => ({ status: 'generated', div });
const patient = { reference: 'Patient/p1' };
const observation = (extra: Record<string, unknown>) => ({ resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: patient, ...extra });

const refused: Array<[string, Record<string, any>, string, RegExp]> = [
  ['a <script> in the narrative (txt-1)', { resourceType: 'Patient', text: narrative(`<div xmlns="${XHTML}"><p>Bonjour</p><script>alert(1)</script></div>`) }, 'Patient.text.div', /<script>/],
  ['an event-handler attribute in the narrative (txt-1)', { resourceType: 'Patient', text: narrative(`<div xmlns="${XHTML}"><p onclick="steal()">Bonjour</p></div>`) }, 'Patient.text.div', /'onclick'/],
  ['a form element in the narrative (txt-1)', { resourceType: 'Patient', text: narrative(`<div xmlns="${XHTML}"><form><input name="x"/></form></div>`) }, 'Patient.text.div', /<form>/],
  ['a javascript: link in the narrative (txt-1)', { resourceType: 'Patient', text: narrative(`<div xmlns="${XHTML}"><a href="javascript:steal()">lien</a></div>`) }, 'Patient.text.div', /script URL/],
  ['a narrative without the XHTML namespace', { resourceType: 'Patient', text: narrative('<div><p>Bonjour</p></div>') }, 'Patient.text.div', /namespace/],
  ['a narrative that is not well-formed', { resourceType: 'Patient', text: narrative(`<div xmlns="${XHTML}"><p>Bonjour</div>`) }, 'Patient.text.div', /does not match/],
  ['an empty narrative (txt-2)', { resourceType: 'Patient', text: narrative(`<div xmlns="${XHTML}"> <p> </p> </div>`) }, 'Patient.text.div', /txt-2/],
  ['an image in the narrative that matches no contained resource', {
    resourceType: 'Patient', text: narrative(`<div xmlns="${XHTML}"><img src="#photo"/></div>`),
  }, 'Patient.text.div', /'#photo' matches no contained resource/],
  ['a narrative in a contained resource', {
    resourceType: 'Patient',
    contained: [{ resourceType: 'Organization', id: 'o', name: 'Cabinet', text: narrative(`<div xmlns="${XHTML}"><iframe src="x"></iframe></div>`) }],
    managingOrganization: { reference: '#o' },
  }, 'Patient.contained[0].text.div', /<iframe>/],
  ['a contained resource without an id (dom-3)', {
    resourceType: 'Patient', contained: [{ resourceType: 'Organization', name: 'Cabinet' }],
  }, 'Patient.contained[0]', /needs an id/],
  ['a contained resource nothing refers to (dom-3)', {
    resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o', name: 'Cabinet' }],
  }, 'Patient.contained[0]', /dom-3/],
  ['a reference with a space', observation({ subject: { reference: 'Patient/has space' } }), 'Observation.subject.reference', /not a literal reference/],
  ['a reference to an unknown type', observation({ subject: { reference: 'Patiente/p1' } }), 'Observation.subject.reference', /not a FHIR resource type/],
  ['two types of one choice element', { resourceType: 'Condition', subject: patient, onsetDateTime: '2020-01-01', onsetString: 'enfance' }, 'Condition.onsetString', /'onsetDateTime' and 'onsetString'/],
  ['value[x] twice', observation({ valueString: '70 kg', valueQuantity: { value: 70, unit: 'kg' } }), 'Observation.valueString', /one choice element/],
  ['two types of a choice in an extension', { resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueString: 'a', valueBoolean: true }] }, 'Patient.extension[0].valueString', /one choice element/],
  ['an unknown Communication.status', { resourceType: 'Communication', status: 'sent' }, 'Communication.status', /'sent'/],
  ['an unknown CommunicationRequest.status', { resourceType: 'CommunicationRequest', status: 'pending' }, 'CommunicationRequest.status', /'pending'/],
  ['an unknown Immunization.status', {
    resourceType: 'Immunization', status: 'done', vaccineCode: { text: 'DTP' }, patient, occurrenceDateTime: '2020-01-01',
  }, 'Immunization.status', /'done'/],
  ['a positiveInt given as 1.5', {
    resourceType: 'Immunization', status: 'completed', vaccineCode: { text: 'DTP' }, patient, occurrenceDateTime: '2020-01-01',
    protocolApplied: [{ doseNumberPositiveInt: 1.5 }],
  }, 'Immunization.protocolApplied[0].doseNumberPositiveInt', /integer/],
  ['a local reference in an extension that resolves to nothing', {
    resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueReference: { reference: '#nowhere' } }],
  }, 'Patient.extension[0].valueReference', /ref-1/],
  ['Binary data that is not base64', { resourceType: 'Binary', contentType: 'text/plain', data: 'aGVs*bG8=' }, 'Binary.data', /base64/],
];

describeEngines('conformance: validation as the HL7 validator does it', (engine) => {
  let s: TestServer;
  let token: string;
  // useServer's token is a system client's.
  useServer(engine, (server, system) => {
    s = server;
    token = system;
  });

  it.each(refused)('refuses %s on write (422 naming the element), and $validate agrees', async (_what, resource, expression, message) => {
    const write = await s.request({ method: 'POST', url: `/fhir/${resource.resourceType}`, token, body: resource });
    expect(write.status).toBe(422);
    const issue = write.body.issue.find((i: any) => i.expression?.includes(expression));
    expect(issue, JSON.stringify(write.body.issue)).toBeDefined();
    expect(issue.diagnostics).toMatch(message);
    const validate = await s.request({ method: 'POST', url: `/fhir/${resource.resourceType}/$validate`, token, body: resource });
    expect(validate.body.issue.some((i: any) => i.severity === 'error' && i.expression?.includes(expression))).toBe(true);
  });

  it('refuses an invalid resource inside a transaction, and stores nothing', async () => {
    const res = await s.request({
      method: 'POST', url: '/fhir', token,
      body: {
        resourceType: 'Bundle', type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:2f4f6a3e-4b43-4a6b-9d3e-0c9f3a1c7d10', resource: { resourceType: 'Patient', name: [{ family: 'Valide' }] }, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Patient', text: narrative(`<div xmlns="${XHTML}"><script>x()</script></div>`) }, request: { method: 'POST', url: 'Patient' } },
        ],
      },
    });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).toMatch(/<script>/);
    const search = await s.request({ method: 'GET', url: '/fhir/Patient?family=Valide', token });
    expect(search.body.total).toBe(0);
  });

  it('accepts Binary data with whitespace (base64Binary allows it) and serves the same bytes', async () => {
    const data = 'Qm9u\nam91ciBs ZSBt\r\n\tb25kZQ==';
    const write = await s.request({ method: 'POST', url: '/fhir/Binary', token, body: { resourceType: 'Binary', contentType: 'text/plain', data } });
    expect(write.status).toBe(201);
    const raw = await s.request({ method: 'GET', url: `/fhir/Binary/${write.body.id}`, token, headers: { accept: 'text/plain' } });
    expect(raw.text).toBe('Bonjour le monde');
    const validate = await s.request({ method: 'POST', url: '/fhir/Binary/$validate', token, body: { resourceType: 'Binary', contentType: 'text/plain', data } });
    expect(validate.body.issue.filter((i: any) => i.severity === 'error')).toEqual([]);
  });

  it('accepts strings with Unicode spaces (U+202F, U+00A0, U+3000) and reads them back unchanged', async () => {
    const resource = { resourceType: 'Patient', name: [{ family: 'Le\u202fGall', given: ['Anne\u00a0Marie', '\u3000Yuki'] }], address: [{ text: '12\u2009rue\u205fde la Paix' }] };
    const write = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: resource });
    expect(write.status, JSON.stringify(write.body)).toBe(201);
    const read = await s.request({ method: 'GET', url: `/fhir/Patient/${write.body.id}`, token });
    expect(read.body.name).toEqual(resource.name);
    expect(read.body.address).toEqual(resource.address);
  });

  it('still refuses a string with a form feed, and says why', async () => {
    const write = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: { resourceType: 'Patient', name: [{ family: 'A\fB' }] } });
    expect(write.status).toBe(422);
    expect(write.body.issue[0].diagnostics).toMatch(/form feed/);
  });

  it('accepts what is valid: a narrative of the subset, contained resources referred to, local and conditional-free references', async () => {
    const resource = {
      resourceType: 'Patient',
      text: narrative(`<div xmlns="${XHTML}"><p class="x" style="color:red">Anne &amp; <b>Marie</b>&#160;<a href="https://example.org">site</a></p><table><tr><td colspan="2">1</td></tr></table><img src="#photo" alt="photo"/></div>`),
      contained: [
        { resourceType: 'Organization', id: 'o', name: 'Cabinet' },
        { resourceType: 'Binary', id: 'photo', contentType: 'image/png', data: 'iVBORw0KGgo=' },
        { resourceType: 'Practitioner', id: 'pr', name: [{ family: 'Martin' }] },
      ],
      managingOrganization: { reference: '#o' },
      generalPractitioner: [{ reference: '#pr' }, { reference: 'Practitioner/abc-1.2/_history/3' }, { reference: 'urn:uuid:2f4f6a3e-4b43-4a6b-9d3e-0c9f3a1c7d10' }, { reference: 'https://other.example/fhir/Practitioner/9' }],
      extension: [{ url: 'http://example.org/x', valueReference: { reference: '#o' } }],
    };
    const write = await s.request({ method: 'POST', url: '/fhir/Patient', token, body: resource });
    expect(write.status, JSON.stringify(write.body)).toBe(201);
    const read = await s.request({ method: 'GET', url: `/fhir/Patient/${write.body.id}`, token });
    expect(read.body.text).toEqual(resource.text);
    expect(read.body.contained).toEqual(resource.contained);
  });

  it('accepts the valid codes of the newly checked required bindings', async () => {
    for (const resource of [
      { resourceType: 'Communication', status: 'completed' },
      { resourceType: 'CommunicationRequest', status: 'active' },
      { resourceType: 'Immunization', status: 'not-done', vaccineCode: { text: 'DTP' }, patient, occurrenceDateTime: '2020-01-01', protocolApplied: [{ doseNumberPositiveInt: 2 }] },
    ]) {
      const write = await s.request({ method: 'POST', url: `/fhir/${resource.resourceType}`, token, body: resource });
      expect(write.status, JSON.stringify(write.body)).toBe(201);
    }
  });
});
