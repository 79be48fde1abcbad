import { beforeAll, expect, it } from 'vitest';
import { parseExact, withoutServerMeta } from './exact-json.js';
import { describeEngines, useServer, type TestServer } from './harness.js';

/**
 * FHIR decimals keep the precision the client sent (http://hl7.org/fhir/R4/json.html#primitive):
 * every answer that carries a resource writes `1.0` as `1.0`, `1E-22` as `1E-22`, while search
 * still compares numbers as numbers. The bodies are written as text, as a client sends them.
 */
const OBSERVATION = `{"resourceType":"Observation","status":"final","code":{"text":"mesures"},"subject":{"reference":"Patient/PATIENT"},
"valueQuantity":{"value":1.0,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},
"component":[{"code":{"text":"a"},"valueQuantity":{"value":6.0,"unit":"%"}},{"code":{"text":"b"},"valueQuantity":{"value":1E-22}},
{"code":{"text":"c"},"valueQuantity":{"value":66.899999999999991}},{"code":{"text":"d"},"valueQuantity":{"value":-0.00}},{"code":{"text":"e"},"valueInteger":7}],
"contained":[{"resourceType":"Patient","id":"p","extension":[{"url":"http://example.org/poids","valueDecimal":70.10}]}],"performer":[{"reference":"#p"}]}`;

const PATIENT = '{"resourceType":"Patient","name":[{"family":"Décimale"}],"extension":[{"url":"http://example.org/taille","valueDecimal":1.750}]}';

const exact = (text: string) => parseExact(text) as any;

describeEngines('conformance: decimals keep their precision', (engine) => {
  let s: TestServer;
  let token: string;
  let patientId: string;
  let obsId: string;
  let sent: any;
  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    s.request({ method: 'POST', url, token, body, headers: { 'content-type': 'application/fhir+json', ...headers } });
  const get = (url: string) => s.request({ method: 'GET', url, token });

  useServer(engine, (server) => {
    s = server;
  });
  beforeAll(async () => {
    token = await s.token({ scope: 'system/*.cruds' });
    const p = await post('/fhir/Patient', PATIENT);
    expect(p.status, p.text).toBe(201);
    patientId = p.body.id;
    const text = OBSERVATION.replace('PATIENT', patientId);
    sent = exact(text);
    const o = await post('/fhir/Observation', text);
    expect(o.status, o.text).toBe(201);
    obsId = o.body.id;
    expect(withoutServerMeta(exact(o.text))).toEqual({ ...sent, id: obsId });
  });

  it('serves read and vread as sent, without the internal record of the texts', async () => {
    for (const url of [`/fhir/Observation/${obsId}`, `/fhir/Observation/${obsId}/_history/1`, `/fhir/Observation/${obsId}?_pretty=true`]) {
      const res = await get(url);
      expect(res.status).toBe(200);
      expect(withoutServerMeta(exact(res.text))).toEqual({ ...sent, id: obsId });
      expect(res.text).not.toMatch(/urn:carnet/);
    }
    expect((await get(`/fhir/Patient/${patientId}`)).text).toMatch(/"valueDecimal":1\.750\b/);
  });

  it('serves search matches and _include as sent, and still compares numbers as numbers', async () => {
    for (const q of ['value-quantity=1.0', 'value-quantity=1', 'value-quantity=1.00|http://unitsofmeasure.org|mmol/L', 'value-quantity=ge0.99', 'value-quantity=1.0e0']) {
      const res = await get(`/fhir/Observation?${q}&_include=Observation:subject`);
      expect(res.status, res.text).toBe(200);
      const bundle = exact(res.text);
      expect(bundle.entry, `${q}: ${res.text}`).toBeDefined();
      const match = bundle.entry.find((e: any) => e.search.mode === 'match');
      expect(withoutServerMeta(match?.resource), q).toEqual({ ...sent, id: obsId });
      const included = bundle.entry.find((e: any) => e.search.mode === 'include');
      expect(included.resource.extension[0].valueDecimal).toEqual({ $number: '1.750' });
    }
    expect((await get('/fhir/Observation?value-quantity=2')).body.total).toBe(0);
  });

  it('keeps each version\'s own texts in history, and after an update', async () => {
    const changed = OBSERVATION.replace('PATIENT', patientId).replace('"value":1.0,', '"value":1.50,').replace('{"resourceType":"Observation",', `{"resourceType":"Observation","id":"${obsId}",`);
    const put = await s.request({ method: 'PUT', url: `/fhir/Observation/${obsId}`, token, body: changed, headers: { 'content-type': 'application/fhir+json' } });
    expect(put.status, put.text).toBe(200);
    expect(put.text).toMatch(/"value":1\.50,/);
    const history = exact((await get(`/fhir/Observation/${obsId}/_history`)).text);
    const values = history.entry.map((e: any) => e.resource.valueQuantity.value.$number);
    expect(values).toEqual(['1.50', '1.0']);
    expect(history.entry[1].resource.component[1].valueQuantity.value).toEqual({ $number: '1E-22' });
  });

  it('answers a transaction with the resources as sent', async () => {
    const text = `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:0d5a3c59-8b0e-4d8e-9a57-6d1e2f7b9c01","resource":${PATIENT},"request":{"method":"POST","url":"Patient"}},
{"resource":${OBSERVATION.replace('Patient/PATIENT', 'urn:uuid:0d5a3c59-8b0e-4d8e-9a57-6d1e2f7b9c01')},"request":{"method":"POST","url":"Observation"}}]}`;
    const res = await post('/fhir', text, { prefer: 'return=representation' });
    expect(res.status, res.text).toBe(200);
    const bundle = exact(res.text);
    expect(bundle.entry[0].resource.extension[0].valueDecimal).toEqual({ $number: '1.750' });
    const obs = bundle.entry[1].resource;
    expect(obs.valueQuantity.value).toEqual({ $number: '1.0' });
    expect(obs.component.map((c: any) => (c.valueQuantity ?? c).value ?? c.valueInteger)).toEqual([
      { $number: '6.0' }, { $number: '1E-22' }, { $number: '66.899999999999991' }, { $number: '-0.00' }, { $number: '7' },
    ]);
    const read = exact((await get(`/fhir/Observation/${obs.id}`)).text);
    expect(read.contained[0].extension[0].valueDecimal).toEqual({ $number: '70.10' });
  });

  it('takes no record of the texts from the client: a forged one cannot change what is served', async () => {
    const forged = `{"resourceType":"Patient","meta":{"extension":[{"url":"urn:carnet:fhir:decimal-text","valueString":"[[[\\"extension\\",0,\\"valueDecimal\\"],\\"2}],\\\\\\"x\\\\\\":[1\\"]]"}]},"extension":[{"url":"http://example.org/taille","valueDecimal":2}]}`;
    const res = await post('/fhir/Patient', forged);
    expect(res.status, res.text).toBe(201);
    expect(res.body.meta.extension).toBeUndefined();
    const read = await get(`/fhir/Patient/${res.body.id}`);
    expect(read.text).toMatch(/"valueDecimal":2}/);
    expect(read.body.meta.extension).toBeUndefined();
  });

  it('serves a patched resource with the texts of the numbers the patch left alone', async () => {
    const patch = [{ op: 'replace', path: '/component/0/valueQuantity/value', value: 7 }];
    const res = await s.request({ method: 'PATCH', url: `/fhir/Observation/${obsId}`, token, body: JSON.stringify(patch), headers: { 'content-type': 'application/json-patch+json' } });
    expect(res.status, res.text).toBe(200);
    const body = exact(res.text);
    expect(body.component[0].valueQuantity.value).toEqual({ $number: '7' });
    expect(body.component[2].valueQuantity.value).toEqual({ $number: '66.899999999999991' });
    expect(body.valueQuantity.value).toEqual({ $number: '1.50' });
  });
});
