import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { projectRoot } from '../paths.js';

/** A coding of a record: a system and a code. */
export interface Code {
  system: string;
  code: string;
}

export type Dose = { age?: string; after?: string; dueFor: string };

export type Schedule =
  | { doses: Dose[] }
  | { every: string[] }
  | { season: { start: string; end: string } };

/** What shows that the action was done; `interval` overrides the schedule's interval after it. */
export type DoneCriterion =
  | { immunization: string; interval?: string }
  | { observation: Code[]; interval?: string }
  | { documentReference: Code[]; interval?: string }
  | { reminder: true };

export interface Rule {
  code: string;
  title: string;
  text: string;
  source: string;
  population: { ageFrom: string; ageTo: string; sex?: 'female' | 'male' };
  countFrom?: string;
  schedule: Schedule;
  done: DoneCriterion[];
  /** The family's file, for messages. */
  family: string;
  /** The value sets of immunization criteria, resolved: `system|code` keys. */
  vaccines: ReadonlySet<string>;
}

interface RuleFile {
  family: string;
  title: string;
  valueSets?: Record<string, { title: string; include: Array<{ system: string; codes: string[] }> }>;
  rules: Array<Omit<Rule, 'family' | 'vaccines'>>;
}

/** A rule file that does not load: start-up stops with this message, naming the file. */
export class RuleFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`prevention rules ${file}: ${problem}`);
    this.name = 'RuleFileError';
  }
}

const SCHEMA_FILE = 'rules.schema.json';

export function rulesDir(): string {
  return join(projectRoot(), 'conformance', 'prevention');
}

function compileSchema() {
  const addFormats = addFormatsModule as unknown as (ajv: Ajv) => void;
  const ajv = new Ajv({ allErrors: false, strict: false });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(join(rulesDir(), SCHEMA_FILE), 'utf8')));
}

/**
 * Loads every family of `dir` (default conformance/prevention/), checked against the JSON schema there and
 * for what a schema cannot say (unknown value sets, codes used twice). Throws RuleFileError on the
 * first file that does not load.
 */
export function loadRules(dir = rulesDir()): Rule[] {
  const validate = compileSchema();
  const rules: Rule[] = [];
  const seen = new Map<string, string>();
  const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== SCHEMA_FILE).sort();
  for (const file of files) {
    let data: RuleFile;
    try {
      data = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (e) {
      throw new RuleFileError(file, `not JSON (${(e as Error).message})`);
    }
    if (!validate(data)) {
      const err = validate.errors?.[0];
      throw new RuleFileError(file, `${err?.instancePath || '/'} ${err?.message ?? 'is invalid'}${err?.params ? ` ${JSON.stringify(err.params)}` : ''}`);
    }
    for (const [i, def] of data.rules.entries()) {
      const where = `/rules/${i}`;
      if (seen.has(def.code)) throw new RuleFileError(file, `${where} code "${def.code}" is already used in ${seen.get(def.code)}`);
      seen.set(def.code, file);
      const vaccines = new Set<string>();
      for (const c of def.done) {
        if (!('immunization' in c)) continue;
        const vs = data.valueSets?.[c.immunization];
        if (!vs) throw new RuleFileError(file, `${where} names the value set "${c.immunization}", which the file does not define`);
        for (const inc of vs.include) for (const code of inc.codes) vaccines.add(`${inc.system}|${code}`);
      }
      rules.push({ ...def, family: file, vaccines });
    }
  }
  if (rules.length === 0) throw new RuleFileError(dir, 'no rule file found');
  return rules;
}
