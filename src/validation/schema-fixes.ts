import { definitions } from '../fhir/definitions.js';
import { SERVED_TYPES } from '../fhir/resource-types.js';
import { createValueSetExpander } from '../search/value-sets.js';
import { choiceKey } from './paths.js';

type Json = Record<string, any>;

const INT32 = { minimum: -2147483648, maximum: 2147483647 };

/** FHIR's whitespace in its regexes is XML Schema's and Java's: [ \t\n\x0B\f\r], not JavaScript's (which adds U+00A0, U+202F...). */
const WS = ' \\t\\n\\x0B\\f\\r';

/** Base64 with whitespace anywhere (XML Schema base64Binary), written so a failing match cannot backtrack. */
export const BASE64_BINARY = /^[ \t\r\n]*(?:[A-Za-z0-9+/][ \t\r\n]*)*(?:=[ \t\r\n]*){0,2}$/;

/**
 * The schema's primitive patterns, keyed by their text, as they mean in FHIR. The string pattern
 * `[ \r\n\t\S]+` (Java semantics) is anything but vertical tab and form feed; integer types are
 * typed as numbers with a pattern, and a pattern never applies to a number.
 */
const PATTERN_FIXES: Record<string, Json> = {
  '^[ \\r\\n\\t\\S]+$': { type: 'string', pattern: '^[^\\x0B\\f]+$' },
  '^\\S*$': { type: 'string', pattern: `^[^${WS}]*$` },
  '^[^\\s]+(\\s[^\\s]+)*$': { type: 'string', pattern: `^[^${WS}]+([${WS}][^${WS}]+)*$` },
  '^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$': { type: 'string', pattern: BASE64_BINARY.source },
  '^-?([0]|([1-9][0-9]*))$': { type: 'integer', ...INT32 },
  '^[1-9][0-9]*$': { type: 'integer', minimum: 1, maximum: INT32.maximum },
  '^[0]|([1-9][0-9]*)$': { type: 'integer', minimum: 0, maximum: INT32.maximum },
};

/** A primitive's schema as FHIR means it; also applied to the primitives the schema inlines in choice elements. */
export function fixPrimitive(name: string | undefined, def: Json): Json {
  if (name === 'xhtml') return { type: 'string', minLength: 1 };
  if (name === 'base64Binary') return { ...def, pattern: BASE64_BINARY.source };
  const fix = typeof def.pattern === 'string' ? PATTERN_FIXES[def.pattern] : undefined;
  if (!fix) return def;
  const { pattern: _pattern, ...rest } = def;
  return { ...rest, ...fix };
}

export interface ElementFacts {
  /** JSON names of each choice element (`onsetDateTime`, `onsetAge`...), at most one of which may be present. */
  choices: string[][];
  /** Codes allowed by a required binding the schema does not enumerate, by property. */
  codes: Map<string, string[]>;
}

/**
 * Facts the R4 StructureDefinitions hold and the JSON schema lacks, by schema definition name
 * (`Observation_Component`): choice groups of every resource and data type, and the required
 * bindings of the served types' `code` elements whose value set expands locally.
 */
export function elementFacts(schemaDefs: Json): Map<string, ElementFacts> {
  const out = new Map<string, ElementFacts>();
  const at = (defName: string): ElementFacts => {
    let facts = out.get(defName);
    if (!facts) out.set(defName, (facts = { choices: [], codes: new Map() }));
    return facts;
  };
  const served = new Set<string>(SERVED_TYPES);
  const expander = createValueSetExpander();
  const sds = [...(definitions.resourceProfiles().entry ?? []), ...(definitions.typeProfiles().entry ?? [])]
    .map((e) => e.resource)
    .filter((sd) => sd?.resourceType === 'StructureDefinition' && sd.snapshot && (sd.kind === 'resource' || sd.kind === 'complex-type') && !sd.abstract && schemaDefs[sd.type]);
  for (const sd of sds) {
    const defByPath = pathsToDefinitions(sd.type, schemaDefs);
    for (const el of sd.snapshot.element as Json[]) {
      if (el.id?.includes(':')) continue;
      const parts = String(el.path).split('.');
      const name = parts.pop()!;
      const defName = defByPath.get(parts.join('.'));
      if (!defName || !parts.length) continue;
      if (name.endsWith('[x]') && (el.type?.length ?? 0) > 1) {
        at(defName).choices.push(el.type.map((t: Json) => choiceKey(name, t.code)));
      }
      if (served.has(sd.type) && el.binding?.strength === 'required' && el.type?.length === 1 && el.type[0].code === 'code') {
        const property = schemaDefs[defName]?.properties?.[name];
        if (!property || property.enum || property.items?.enum) continue;
        const expansion = expander.expand(el.binding.valueSet);
        if (!('error' in expansion)) at(defName).codes.set(name, [...new Set(expansion.flatMap((s) => s.codes))].sort());
      }
    }
  }
  return out;
}

/** Element paths (`Observation.component`) to the schema definitions describing them, found by following $refs. */
function pathsToDefinitions(type: string, schemaDefs: Json): Map<string, string> {
  const out = new Map<string, string>([[type, type]]);
  const walk = (path: string, defName: string, depth: number): void => {
    if (depth > 12) return;
    for (const [prop, schema] of Object.entries<Json>(schemaDefs[defName]?.properties ?? {})) {
      const ref = schema.$ref ?? schema.items?.$ref;
      if (typeof ref !== 'string') continue;
      const target = ref.replace('#/definitions/', '');
      // Backbone elements are named after their resource or type (Observation_Component); others are data types.
      if (!target.startsWith(`${type}_`)) continue;
      const child = `${path}.${prop}`;
      if (out.has(child)) continue;
      out.set(child, target);
      walk(child, target, depth + 1);
    }
  };
  walk(type, type, 0);
  return out;
}
