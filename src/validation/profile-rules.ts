import type { Issue } from '../errors.js';
import { children, choiceKeysIn, countElement, descend, type Located } from './paths.js';
import type { CarnetProfile, ProfileRule } from './profiles.js';

/** Issues of `resource` against one carnet profile (its type already checked by the caller). */
export function checkProfile(profile: CarnetProfile, resource: Record<string, any>, rootExpression: string): Issue[] {
  const issues: Issue[] = [];
  const root: Located = { value: resource, expression: rootExpression };
  for (const rule of profile.rules) {
    for (const parent of descend(root, rule.parent)) checkRule(profile, rule, parent, issues);
  }
  return issues;
}

function checkRule(profile: CarnetProfile, rule: ProfileRule, parent: Located, issues: Issue[]): void {
  const values = valuesOf(rule, parent);
  const count = rule.extensionUrl ? values.length : countElement(parent.value, rule.name);
  const display = rule.slice ? `${rule.name}:${rule.slice}` : rule.name;
  const at = rule.extensionUrl ? `${parent.expression}.${rule.name}('${rule.extensionUrl}')` : `${parent.expression}.${rule.name}`;
  const by = `by profile ${profile.label}`;
  if (rule.min !== undefined && count < rule.min) {
    const diagnostics = rule.min === 1
      ? `Missing element '${display}', required ${by}`
      : `Element '${display}' needs at least ${rule.min} values ${by}, found ${count}`;
    issues.push({ severity: 'error', code: 'required', diagnostics, expression: [at] });
  }
  if (rule.max !== undefined && count > rule.max) {
    const diagnostics = rule.max === 0
      ? `Element '${display}' is not allowed ${by}`
      : `Element '${display}' allows at most ${rule.max} value${rule.max === 1 ? '' : 's'} ${by}, found ${count}`;
    issues.push({ severity: 'error', code: 'structure', diagnostics, expression: [rule.max === 0 && values[0] ? values[0].expression : at] });
  }
  for (const v of values) {
    if ('fixed' in rule && !deepEqual(v.value, rule.fixed)) {
      issues.push({ severity: 'error', code: 'value', diagnostics: `Element '${display}' must be ${show(rule.fixed)} ${by}, found ${show(v.value)}`, expression: [v.expression] });
    }
    if ('pattern' in rule && !matchesPattern(v.value, rule.pattern)) {
      issues.push({ severity: 'error', code: 'value', diagnostics: `Element '${display}' must match ${show(rule.pattern)} ${by}`, expression: [v.expression] });
    }
    if (rule.containedOnly && typeof v.value?.reference === 'string' && !v.value.reference.startsWith('#')) {
      issues.push({
        severity: 'error',
        code: 'invalid',
        diagnostics: `Element '${display}' must reference a contained resource ('#id') ${by}, found '${v.value.reference}'`,
        expression: [`${v.expression}.reference`],
      });
    }
  }
}

function valuesOf(rule: ProfileRule, parent: Located): Located[] {
  if (rule.extensionUrl) return children(parent, rule.name).filter((v) => v.value?.url === rule.extensionUrl);
  if (rule.name.endsWith('[x]')) return choiceKeysIn(parent.value, rule.name.slice(0, -3)).flatMap((k) => children(parent, k));
  return children(parent, rule.name);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as any)[k], (b as any)[k]));
}

/**
 * FHIR pattern[x]: every value in the pattern appears in the instance; each item of a pattern
 * array matches some item of the instance array (http://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.pattern_x_).
 */
export function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && pattern.every((p) => value.some((v) => matchesPattern(v, p)));
  }
  if (typeof pattern === 'object' && pattern !== null) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    return Object.entries(pattern).every(([k, p]) => matchesPattern((value as any)[k], p));
  }
  return value === pattern;
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
