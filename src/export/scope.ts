import { NOTHING } from '../access/clauses.js';
import { gatherFacts } from '../access/facts.js';
import { principalFromClaims } from '../auth/principal.js';
import { SERVED_TYPES } from '../fhir/resource-types.js';
import { accessOutsideRequest } from '../interactions/executor.js';
import { andFilters, compileSearch, type Filter } from '../search/compile.js';
import { resolveFilter } from '../search/execute.js';
import { parseSearch } from '../search/parse.js';
import type { SearchRegistry } from '../search/registry.js';
import type { Store } from '../store/store.js';
import type { ExportJob, ExportLevel } from './job.js';
import { searchQuery } from './params.js';

/**
 * The types each level exports. Patient and group level: the types whose records belong to a
 * patient's compartment, and Binary (a Binary joins the compartment of what it documents); not
 * Group, which lists patients and is nobody's health data.
 */
export function exportableTypes(level: ExportLevel, registry: SearchRegistry): string[] {
  if (level === 'system') return [...SERVED_TYPES];
  return SERVED_TYPES.filter((t) => t !== 'Group' && (t === 'Patient' || t === 'Binary' || registry.compartmentParams(t).length > 0));
}

/** The active Patient members of a Group, as 'Patient/<id>'. */
export async function groupMembers(store: Store, groupId: string): Promise<string[]> {
  const group = await store.read('Group', groupId);
  if (!group || group.deleted || !group.resource) return [];
  const members = (group.resource.member as Array<{ entity?: { reference?: unknown }; inactive?: boolean }> | undefined) ?? [];
  const refs = members.filter((m) => m.inactive !== true).map((m) => m.entity?.reference);
  return [...new Set(refs.filter((r): r is string => typeof r === 'string' && /^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(r)))];
}

function levelClause(type: string, level: ExportLevel, members: string[] | undefined): Filter {
  if (level === 'system') return {};
  if (level === 'patient') return type === 'Patient' ? {} : { 'comp.0': { $exists: true } };
  if (!members || members.length === 0) return NOTHING;
  if (type === 'Patient') return { id: { $in: members.map((m) => m.slice('Patient/'.length)) } };
  return { comp: { $in: members } };
}

/**
 * What a job exports of each type, as a store filter: the level, the requester's access (their
 * facts gathered once, when the job starts in this process), _since, the transaction time, and
 * the _typeFilter queries (any of them). Decided once per type.
 */
export interface ExportFilters {
  /** What a job exports of a type. */
  filter(type: string): Promise<Filter>;
  /** The same without the _typeFilter queries: what the requester may know was deleted. */
  scope(type: string): Promise<Filter>;
}

export async function exportFilters(job: ExportJob, deps: { store: Store; registry: SearchRegistry; baseUrl: string; searchBudget: number }): Promise<ExportFilters> {
  const principal = principalFromClaims(job.claims);
  const at = new Date(job.transactionTime);
  const members = job.level === 'group' ? await groupMembers(deps.store, job.group!) : undefined;
  const facts = await gatherFacts(deps.store, principal, at, async () => members);
  const access = accessOutsideRequest(principal, facts, deps.registry);
  const time: Filter = { lastUpdated: job.params.since ? { $gt: job.params.since, $lte: job.transactionTime } : { $lte: job.transactionTime } };
  // The _typeFilter sub-queries of the job examine at most what one request's searches may.
  const budget = { limit: deps.searchBudget, examined: 0 };
  const scope = async (type: string) => andFilters(levelClause(type, job.level, members), ...access(type), time);
  const filter = async (type: string) => {
    const clauses = access(type);
    let typeFilter: Filter = {};
    const queries = job.params.typeFilters[type];
    if (queries?.length) {
      const alternatives: Filter[] = [];
      for (const q of queries) {
        const compiled = compileSearch(parseSearch(type, searchQuery(q), deps.registry, { strict: true, baseUrl: deps.baseUrl }), { now: at.getTime() });
        alternatives.push(await resolveFilter(deps.store, compiled.filter, compiled.subqueries, access, undefined, budget));
      }
      typeFilter = alternatives.length === 1 ? alternatives[0]! : { $or: alternatives };
    }
    return andFilters(levelClause(type, job.level, members), ...clauses, time, typeFilter);
  };
  return { filter, scope };
}
