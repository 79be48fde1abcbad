import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * carnet's profiles: StructureDefinitions (differential only) in `profiles/`, read once at start.
 * Each differential element becomes a rule on the element's values under each instance of its
 * parent. What a rule understands: min, max, fixed[x], pattern[x], type.aggregation = contained,
 * and extension slices identified by their extension URL. Other slices are reported in `ignored`.
 */
export interface ProfileRule {
  /** JSON names from the resource root to the parent element (`content`, `attachment`). */
  parent: string[];
  /** Element name, `value[x]` for a choice. */
  name: string;
  min?: number;
  max?: number;
  fixed?: unknown;
  pattern?: unknown;
  /** type.aggregation = contained: the reference must point inside the resource (`#id`). */
  containedOnly?: boolean;
  /** For an extension slice: the URL that identifies its extensions. */
  extensionUrl?: string;
  slice?: string;
}

export interface CarnetProfile {
  url: string;
  /** Short name for messages: the last segment of the URL. */
  label: string;
  type: string;
  rules: ProfileRule[];
  /** Differential elements this engine does not check, by element id. */
  ignored: string[];
}

interface DifferentialElement {
  id?: string;
  path: string;
  sliceName?: string;
  min?: number;
  max?: string;
  type?: Array<{ code: string; profile?: string[]; aggregation?: string[] }>;
  [key: string]: unknown;
}

interface ProfileDefinition {
  resourceType: string;
  url: string;
  type: string;
  baseDefinition?: string;
  differential?: { element: DifferentialElement[] };
}

/** The repository's `profiles/` folder, found from this file (works from src/ and from dist/). */
export function defaultProfilesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'profiles');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'profiles');
}

export function loadProfiles(dir: string): Map<string, CarnetProfile> {
  const definitions = new Map<string, ProfileDefinition>();
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const file of files) {
    const sd = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileDefinition;
    if (sd.resourceType !== 'StructureDefinition' || !sd.url || !sd.type || !sd.differential?.element) {
      throw new Error(`${file}: not a StructureDefinition with url, type and differential`);
    }
    if (definitions.has(sd.url)) throw new Error(`${file}: duplicate profile ${sd.url}`);
    definitions.set(sd.url, sd);
  }
  const profiles = new Map<string, CarnetProfile>();
  for (const sd of definitions.values()) profiles.set(sd.url, compileProfile(sd, definitions));
  return profiles;
}

/** A profile's rules are its ancestors' (when carnet knows them) followed by its own. */
function compileProfile(sd: ProfileDefinition, all: Map<string, ProfileDefinition>): CarnetProfile {
  const chain: ProfileDefinition[] = [];
  for (let at: ProfileDefinition | undefined = sd; at && !chain.includes(at); at = at.baseDefinition ? all.get(at.baseDefinition) : undefined) {
    if (at.type !== sd.type) throw new Error(`${sd.url}: base ${at.url} constrains ${at.type}, not ${sd.type}`);
    chain.unshift(at);
  }
  const rules: ProfileRule[] = [];
  const ignored: string[] = [];
  for (const def of chain) {
    for (const el of def.differential!.element) {
      const rule = ruleOf(el);
      if (rule === 'ignored') ignored.push(el.id ?? el.path);
      else if (rule) rules.push(rule);
    }
  }
  return { url: sd.url, label: sd.url.split('/').pop()!, type: sd.type, rules, ignored };
}

function ruleOf(el: DifferentialElement): ProfileRule | 'ignored' | undefined {
  const id = el.id ?? el.path;
  const segments = el.path.split('.').slice(1);
  if (segments.length === 0) return undefined;
  let extensionUrl: string | undefined;
  if (id.includes(':')) {
    // Only `...extension:name` itself, identified by its extension's URL.
    const m = /^[^:]*\.(extension|modifierExtension):([^.:]+)$/.exec(id);
    extensionUrl = el.type?.find((t) => t.code === 'Extension')?.profile?.[0];
    if (!m || !extensionUrl) return 'ignored';
  }
  const rule: ProfileRule = { parent: segments.slice(0, -1), name: segments.at(-1)! };
  if (extensionUrl) {
    rule.extensionUrl = extensionUrl;
    rule.slice = el.sliceName;
  }
  if (typeof el.min === 'number' && el.min > 0) rule.min = el.min;
  if (el.max !== undefined && el.max !== '*') rule.max = Number(el.max);
  for (const [key, value] of Object.entries(el)) {
    if (key.startsWith('fixed')) rule.fixed = value;
    if (key.startsWith('pattern')) rule.pattern = value;
  }
  if (el.type?.some((t) => t.aggregation?.includes('contained'))) rule.containedOnly = true;
  const checks = rule.min !== undefined || rule.max !== undefined || 'fixed' in rule || 'pattern' in rule || rule.containedOnly;
  return checks ? rule : undefined;
}
