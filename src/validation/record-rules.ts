import type { Issue } from '../errors.js';

/**
 * Rules of the patient's medical profile that the R4 base definitions leave open, checked on every
 * write and by $validate whatever profile the resource declares:
 *
 * - a vital sign (an Observation with a LOINC code of the R4 vital signs profiles) holds what the
 *   R4 profiles ask of it (http://hl7.org/fhir/R4/observation-vitalsigns.html): a subject, an
 *   effective time, and its value as a Quantity in UCUM with one of the profile's units (a weight in
 *   kg, g or [lb_av]; a blood pressure as systolic and diastolic components in mm[Hg]), or a
 *   dataAbsentReason. Not the vital-signs category, which the profiles also want: a weight a
 *   patient app files without it is still a weight (search it by code);
 * - a blood glucose in UCUM, mg/dL, g/L or mmol/L (not a vital sign in R4, but the same mistake:
 *   a number without its unit is not a measurement one can compare or plot);
 * - a vaccine code in the French systems has their shape: CIS (ANSM, 8 digits), ATC (WHO, J07BM01).
 */

const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';

export const CIS_SYSTEMS = new Set(['https://smt.esante.gouv.fr/terminologie-bdpm', 'urn:oid:1.2.250.1.213.2.3.1']);
export const ATC_SYSTEM = 'http://www.whocc.no/atc';
const CIS_CODE = /^\d{8}$/;
const ATC_CODE = /^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$/;

interface Measure {
  name: string;
  units: string[];
}

const WEIGHT: Measure = { name: 'body weight', units: ['kg', 'g', '[lb_av]'] };
const GLUCOSE: Measure = { name: 'blood glucose', units: ['mg/dL', 'g/L', 'mmol/L'] };

/** LOINC codes of the R4 vital signs profiles (and of blood glucose), with the units they take. */
const MEASURES: Record<string, Measure> = {
  '29463-7': WEIGHT,
  '3141-9': WEIGHT,
  '8302-2': { name: 'body height', units: ['cm', '[in_i]'] },
  '39156-5': { name: 'body mass index', units: ['kg/m2'] },
  '8867-4': { name: 'heart rate', units: ['/min'] },
  '9279-1': { name: 'respiratory rate', units: ['/min'] },
  '8310-5': { name: 'body temperature', units: ['Cel', '[degF]'] },
  '2708-6': { name: 'oxygen saturation', units: ['%'] },
  '59408-5': { name: 'oxygen saturation', units: ['%'] },
  '9843-4': { name: 'head circumference', units: ['cm', '[in_i]'] },
  '2339-0': GLUCOSE,
  '2345-7': GLUCOSE,
  '15074-8': GLUCOSE,
  '14749-6': GLUCOSE,
  '41653-7': GLUCOSE,
};

const BLOOD_PRESSURE = '85354-9';
const BP_COMPONENTS: Record<string, string> = { '8480-6': 'systolic', '8462-4': 'diastolic' };
const PRESSURE: Measure = { name: 'blood pressure', units: ['mm[Hg]'] };

type Json = Record<string, any>;

const codings = (concept: unknown): Json[] => {
  const list = (concept as Json | undefined)?.coding;
  return Array.isArray(list) ? list.filter((c) => c && typeof c === 'object') : [];
};
const loincCodes = (concept: unknown): string[] => codings(concept).filter((c) => c.system === LOINC && typeof c.code === 'string').map((c) => c.code);

export function recordRuleIssues(resource: Json, expression: string): Issue[] {
  if (resource.resourceType === 'Observation') return observationIssues(resource, expression);
  if (resource.resourceType === 'Immunization') return immunizationIssues(resource, expression);
  return [];
}

function error(code: string, diagnostics: string, at: string): Issue {
  return { severity: 'error', code, diagnostics, expression: [at] };
}

function observationIssues(obs: Json, at: string): Issue[] {
  const codes = loincCodes(obs.code);
  const bp = codes.includes(BLOOD_PRESSURE);
  const code = codes.find((c) => c in MEASURES);
  const measure = bp ? PRESSURE : code ? MEASURES[code] : undefined;
  if (!measure) return [];
  const issues: Issue[] = [];
  const label = `A ${measure.name} Observation (LOINC ${bp ? BLOOD_PRESSURE : code})`;
  if (!obs.subject) issues.push(error('required', `${label} must name its patient in subject`, `${at}.subject`));
  if (obs.effectiveDateTime === undefined && obs.effectivePeriod === undefined) {
    issues.push(error('required', `${label} must say when it was measured: effectiveDateTime or effectivePeriod`, `${at}.effective[x]`));
  }
  if (bp) {
    const components: Json[] = Array.isArray(obs.component) ? obs.component : [];
    for (const [loinc, name] of Object.entries(BP_COMPONENTS)) {
      const i = components.findIndex((c) => loincCodes(c?.code).includes(loinc));
      if (i < 0) issues.push(error('required', `${label} needs a ${name} component (LOINC ${loinc}) with its value in mm[Hg]`, `${at}.component`));
      else issues.push(...valueIssues(components[i], `${at}.component[${i}]`, { ...PRESSURE, name: `${name} blood pressure` }));
    }
    return issues;
  }
  issues.push(...valueIssues(obs, at, measure));
  return issues;
}

/** The value of a measurement (an Observation or one of its components): a UCUM Quantity in the allowed units, or a dataAbsentReason. */
function valueIssues(holder: Json, at: string, measure: Measure): Issue[] {
  const units = measure.units.join(', ');
  const quantity = holder.valueQuantity as Json | undefined;
  const other = Object.keys(holder).find((k) => k.startsWith('value') && k !== 'valueQuantity');
  if (other) return [error('value', `A ${measure.name} is a Quantity (valueQuantity in UCUM: ${units}), not ${other}`, `${at}.${other}`)];
  if (!quantity) {
    return holder.dataAbsentReason ? [] : [error('required', `A ${measure.name} needs valueQuantity (UCUM: ${units}) or a dataAbsentReason`, `${at}.valueQuantity`)];
  }
  const issues: Issue[] = [];
  if (typeof quantity.value !== 'number') issues.push(error('required', `A ${measure.name} needs a number in valueQuantity.value`, `${at}.valueQuantity.value`));
  if (quantity.system !== UCUM || typeof quantity.code !== 'string') {
    issues.push(error('value', `A ${measure.name} needs its unit in UCUM: valueQuantity.system ${UCUM} and valueQuantity.code one of ${units}`, `${at}.valueQuantity`));
  } else if (!measure.units.includes(quantity.code)) {
    issues.push(error('value', `'${quantity.code}' is not a unit of a ${measure.name}: expected one of ${units} (UCUM)`, `${at}.valueQuantity.code`));
  }
  return issues;
}

function immunizationIssues(imm: Json, at: string): Issue[] {
  const issues: Issue[] = [];
  codings(imm.vaccineCode).forEach((c, i) => {
    const where = `${at}.vaccineCode.coding[${i}].code`;
    if (CIS_SYSTEMS.has(c.system) && !(typeof c.code === 'string' && CIS_CODE.test(c.code))) {
      issues.push(error('code-invalid', `A CIS code (${c.system}) is 8 digits, got ${JSON.stringify(c.code)}`, where));
    }
    if (c.system === ATC_SYSTEM && !(typeof c.code === 'string' && ATC_CODE.test(c.code))) {
      issues.push(error('code-invalid', `An ATC code is a letter, two digits, two letters and two digits (J07BM01) or a level above it (J07, J07B, J07BM), got ${JSON.stringify(c.code)}`, where));
    }
  });
  if (imm.primarySource === true && imm.reportOrigin !== undefined) {
    issues.push(error('invariant', 'reportOrigin says where a reported vaccination comes from: it goes with primarySource false', `${at}.reportOrigin`));
  }
  return issues;
}
