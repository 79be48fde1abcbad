// In-process cost of keeping decimal texts (src/http/decimals.ts): parsing a body with and
// without the scan, writing an answer with and without the splice. CPU time per call, steadier
// than requests per second on a shared VM. Prints the machine and the sizes.
import { keepDecimalText, stringifyWithDecimals } from '../../src/http/decimals.js';
import { machine } from './lib.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000);

const patient = {
  resourceType: 'Patient',
  id: 'p1',
  meta: { versionId: '3', lastUpdated: '2026-06-01T10:00:00.000Z' },
  identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '100000000000001' }],
  name: [{ family: 'Famille1', given: ['Hélène', 'Marie'] }],
  gender: 'female',
  birthDate: '1951-02-11',
  address: [{ line: ['1 rue de la Paix'], city: 'Paris', postalCode: '75002', country: 'FR' }],
};
const observationText = (i: number) =>
  `{"resourceType":"Observation","id":"o${i}","meta":{"versionId":"1","lastUpdated":"2026-06-01T10:00:00.000Z"},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-06-01T09:00:00+02:00","valueQuantity":{"value":172.0,"unit":"cm","system":"http://unitsofmeasure.org","code":"cm"},"component":[{"code":{"text":"a"},"valueQuantity":{"value":66.899999999999991}},{"code":{"text":"b"},"valueQuantity":{"value":1.50}}]}`;

function cpuMicrosPerCall(fn: () => unknown): number {
  for (let i = 0; i < ITERATIONS / 10; i++) fn();
  const start = process.cpuUsage();
  for (let i = 0; i < ITERATIONS; i++) fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / ITERATIONS;
}

const row = (label: string, micros: number) => console.log(`${label.padEnd(64)} ${micros.toFixed(2).padStart(8)} µs`);

const patientText = JSON.stringify(patient);
const obs = observationText(0);
const withTexts = (text: string) => {
  const v = JSON.parse(text);
  keepDecimalText(text, v);
  return v;
};
const bundle = (resources: unknown[]) => ({ resourceType: 'Bundle', type: 'searchset', total: resources.length, entry: resources.map((resource) => ({ fullUrl: 'x', resource, search: { mode: 'match' } })) });
const plainPage = bundle(Array.from({ length: 20 }, () => patient));
const decimalPage = bundle(Array.from({ length: 20 }, (_, i) => withTexts(observationText(i))));

console.log(`decimal texts, in process: ${machine()}; ${ITERATIONS} calls per figure`);
console.log(`bodies: Patient ${patientText.length} B, Observation with 3 decimals ${obs.length} B; pages of 20 entries`);
row('parse Patient: JSON.parse', cpuMicrosPerCall(() => JSON.parse(patientText)));
row('parse Patient: JSON.parse + keepDecimalText (nothing to keep)', cpuMicrosPerCall(() => withTexts(patientText)));
row('parse Observation: JSON.parse', cpuMicrosPerCall(() => JSON.parse(obs)));
row('parse Observation: JSON.parse + keepDecimalText (3 texts)', cpuMicrosPerCall(() => withTexts(obs)));
row('write Patient: JSON.stringify', cpuMicrosPerCall(() => JSON.stringify(patient)));
row('write Patient: stringifyWithDecimals', cpuMicrosPerCall(() => stringifyWithDecimals(patient)));
row('write page of 20 Patients: JSON.stringify', cpuMicrosPerCall(() => JSON.stringify(plainPage)));
row('write page of 20 Patients: stringifyWithDecimals', cpuMicrosPerCall(() => stringifyWithDecimals(plainPage)));
row('write page of 20 Observations with texts: JSON.stringify', cpuMicrosPerCall(() => JSON.stringify(decimalPage)));
row('write page of 20 Observations with texts: stringifyWithDecimals', cpuMicrosPerCall(() => stringifyWithDecimals(decimalPage)));
