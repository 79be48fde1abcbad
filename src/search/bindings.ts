import { definitions } from '../fhir/definitions.js';

/**
 * The code system implied for a `code` element (e.g. Patient.gender -> http://hl7.org/fhir/administrative-gender):
 * its required binding's value set draws from one code system. Indexing it as the token's system makes
 * `gender=http://hl7.org/fhir/administrative-gender|female` and `:in` work on plain codes.
 * The StructureDefinitions (35 MB) are read on first use only.
 */
export function createBindingLookup(): (path: string) => string | undefined {
  let elements: Map<string, any> | undefined;
  let valueSets: Map<string, any> | undefined;
  const memo = new Map<string, string | undefined>();

  const load = () => {
    if (elements) return;
    elements = new Map();
    for (const bundle of [definitions.resourceProfiles(), definitions.typeProfiles()]) {
      for (const e of bundle.entry ?? []) {
        const sd = e.resource;
        if (sd?.resourceType !== 'StructureDefinition' || sd.derivation === 'constraint') continue;
        for (const el of sd.snapshot?.element ?? []) if (!elements.has(el.path)) elements.set(el.path, el);
      }
    }
    valueSets = new Map();
    for (const e of definitions.valueSets().entry ?? []) {
      if (e.resource?.resourceType === 'ValueSet') valueSets.set(e.resource.url, e.resource);
    }
  };

  /** The element at a dotted path, following data types: Patient.address.use -> Address.use. */
  const element = (path: string): any => {
    const direct = elements!.get(path);
    if (direct) return direct;
    const parts = path.split('.');
    for (let i = parts.length - 1; i > 0; i--) {
      const parent = elements!.get(parts.slice(0, i).join('.'));
      const typeCode = parent?.type?.length === 1 ? parent.type[0].code : undefined;
      if (typeCode && /^[A-Z]/.test(typeCode)) return element([typeCode, ...parts.slice(i)].join('.'));
      if (parent) return undefined;
    }
    return undefined;
  };

  return (path: string) => {
    if (!/^[A-Za-z]+(\.[A-Za-z]+)+$/.test(path)) return undefined;
    if (memo.has(path)) return memo.get(path);
    load();
    const el = element(path);
    let system: string | undefined;
    if (el?.type?.length === 1 && el.type[0].code === 'code' && el.binding?.strength === 'required') {
      const vs = valueSets!.get(String(el.binding.valueSet).split('|')[0]);
      const includes: any[] = vs?.compose?.include ?? [];
      const systems = new Set(includes.map((i) => i.system));
      if (includes.length > 0 && systems.size === 1 && includes.every((i) => i.system && !i.valueSet)) system = includes[0].system;
    }
    memo.set(path, system);
    return system;
  };
}
