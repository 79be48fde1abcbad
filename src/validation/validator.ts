import type { Issue } from '../errors.js';
import { createConstraintCompiler, type ConstraintEnv, type ConstraintStats } from './constraints.js';
import { createElementRules } from './element-rules.js';
import { r4ResourceTypes } from './fhir-schema.js';
import { checkProfile } from './profile-rules.js';
import { defaultProfilesDir, loadProfiles } from './profiles.js';
import { createSchemaValidator } from './schema-validator.js';
import { isObject } from './paths.js';
import { walkStructure } from './structure.js';
import { localReferenceIssues } from './local-references.js';
import { narrativeIssue } from './narrative.js';
import { recordRuleIssues } from './record-rules.js';

export interface ValidationResult {
  /** Errors (severity 'error') make the resource invalid; warnings do not. */
  issues: Issue[];
}

export interface ValidateOptions {
  /** Canonical URL of a carnet profile to check, in addition to those the resource declares. */
  profile?: string;
}

export interface Validator {
  validate(resource: unknown, opts?: ValidateOptions): ValidationResult;
  /** Canonical URLs of the profiles carnet checks. */
  profiles(): string[];
  /** Those of one resource type (the CapabilityStatement's supportedProfile). */
  profilesOf(type: string): string[];
  isProfileKnown(url: string): boolean;
  /** Compiles a type's schema and rules now rather than on its first validation. */
  prepare(type: string): void;
  /** How many FHIR invariants are evaluated, which are left out and why. */
  constraintStats(): ConstraintStats;
}

/** Past this many issues the client has enough to fix; the rest would only cost time. */
const MAX_ISSUES = 100;

/** A Bundle of Bundles with contained resources is 3 levels; this bounds recursion on hostile input. */
const MAX_NESTING = 8;

/**
 * Resource validation: the R4 JSON schema (ajv), structural JSON rules, R4 cardinalities and
 * invariants (FHIRPath), and carnet's profiles. Nothing is compiled before a type is first used.
 */
export function createValidator(opts: { profilesDir?: string } = {}): Validator {
  const profiles = loadProfiles(opts.profilesDir ?? defaultProfilesDir());
  const schema = createSchemaValidator();
  const compiler = createConstraintCompiler();
  const rules = createElementRules(compiler);
  let resourceTypes: Set<string> | undefined;

  const isResourceType = (type: string): boolean => (resourceTypes ??= r4ResourceTypes()).has(type);

  function validateResource(
    resource: Record<string, any>,
    expression: string,
    rootResource: Record<string, any>,
    extraProfile: string | undefined,
    issues: Issue[],
    depth: number,
    contained: boolean,
  ): void {
    const type = resource.resourceType;
    if (depth > MAX_NESTING) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: `Resources nested deeper than ${MAX_NESTING} levels`, expression: [expression] });
      return;
    }
    if (typeof type !== 'string' || !isResourceType(type)) {
      issues.push({
        severity: 'error',
        code: 'structure',
        diagnostics: typeof type === 'string' ? `Unknown resource type '${type}'` : 'Missing resourceType',
        expression: [`${expression}.resourceType`],
      });
      return;
    }
    issues.push(...schema.validate(type, resource, expression));
    const structure = walkStructure(resource, expression);
    issues.push(...structure.issues);
    const narrative = narrativeIssue(resource, expression, contained ? rootResource : resource);
    if (narrative) issues.push(narrative);
    if (!contained) issues.push(...localReferenceIssues(resource, expression));
    const env: ConstraintEnv = { resource, rootResource };
    issues.push(...rules.check(type, resource, expression, env));
    issues.push(...recordRuleIssues(resource, expression));
    for (const url of profilesToCheck(resource, extraProfile, expression, issues)) {
      const profile = profiles.get(url)!;
      if (profile.type !== type) {
        issues.push({
          severity: 'error',
          code: 'invalid',
          diagnostics: `Profile ${profile.label} applies to ${profile.type}, not ${type}`,
          expression: [expression],
        });
      } else {
        issues.push(...checkProfile(profile, resource, expression));
      }
    }
    for (const inner of structure.embedded) {
      validateResource(inner.resource, inner.expression, inner.contained ? rootResource : inner.resource, undefined, issues, depth + 1, inner.contained);
    }
  }

  /** Known profiles to check; unknown declared ones are a warning, an unknown requested one an error. */
  function profilesToCheck(resource: Record<string, any>, extra: string | undefined, expression: string, issues: Issue[]): string[] {
    const urls: string[] = [];
    const declared: unknown[] = Array.isArray(resource.meta?.profile) ? resource.meta.profile : [];
    declared.forEach((raw, i) => {
      if (typeof raw !== 'string') return;
      const url = raw.split('|')[0]!;
      if (profiles.has(url)) urls.push(url);
      else {
        issues.push({
          severity: 'warning',
          code: 'not-supported',
          diagnostics: `Profile ${raw} is not known to carnet; the resource was checked against the R4 base definition only`,
          expression: [`${expression}.meta.profile[${i}]`],
        });
      }
    });
    if (extra !== undefined) {
      const url = extra.split('|')[0]!;
      if (profiles.has(url)) urls.push(url);
      else issues.push({ severity: 'error', code: 'not-supported', diagnostics: `Profile ${extra} is not known to carnet`, expression: [expression] });
    }
    return [...new Set(urls)];
  }

  return {
    validate(resource, validateOpts = {}) {
      if (!isObject(resource)) {
        return { issues: [{ severity: 'error', code: 'structure', diagnostics: 'A resource must be a JSON object', expression: ['$this'] }] };
      }
      const issues: Issue[] = [];
      const root = typeof resource.resourceType === 'string' ? resource.resourceType : 'Resource';
      validateResource(resource, root, resource, validateOpts.profile, issues, 0, false);
      return { issues: dedupe(issues) };
    },
    profiles: () => [...profiles.keys()],
    profilesOf: (type) => [...profiles.values()].filter((p) => p.type === type).map((p) => p.url).sort(),
    isProfileKnown: (url) => profiles.has(url.split('|')[0]!),
    prepare(type) {
      schema.validate(type, { resourceType: type });
      rules.prepare(type);
    },
    constraintStats: () => compiler.stats(),
  };
}

/** The schema and the R4 cardinalities can both report one missing element. */
function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  const out: Issue[] = [];
  for (const issue of issues) {
    const key = `${issue.severity}|${issue.expression?.join(',')}|${issue.diagnostics}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
    if (out.length === MAX_ISSUES) {
      out.push({ severity: 'information', code: 'too-costly', diagnostics: `Validation stopped after ${MAX_ISSUES} issues`, expression: [issues[0]!.expression?.[0] ?? '$this'] });
      break;
    }
  }
  return out;
}
