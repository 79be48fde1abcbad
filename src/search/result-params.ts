import { FhirError, type Issue } from '../errors.js';
import { isServedType } from '../fhir/resource-types.js';
import type { SearchRegistry } from './registry.js';
import { badValue } from './types/common.js';
import { WRITTEN_BY } from './record-fields.js';

export type Total = 'none' | 'estimate' | 'accurate';
export type Summary = 'true' | 'false' | 'text' | 'data' | 'count';

/** `_include=Type:param[:Target]` (or `*`); for `_revinclude`, Type is the referring type. */
export interface IncludeParam {
  type: string;
  /** '*' for every reference parameter of type. */
  code: string;
  target?: string;
  iterate: boolean;
}

export interface SortParam {
  code: string;
  descending: boolean;
}

export interface ResultParams {
  sort: SortParam[];
  count: number;
  offset?: number;
  total: Total;
  summary?: Summary;
  elements?: string[];
  include: IncludeParam[];
  revinclude: IncludeParam[];
}

const TOTALS = ['none', 'estimate', 'accurate'];
const SUMMARIES = ['true', 'false', 'text', 'data', 'count'];
const MAX_OFFSET = 100_000;
const ELEMENT = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const SORTABLE_RECORD_FIELDS = new Set(['_id', '_lastUpdated']);

function single(name: string, values: string[]): string {
  if (values.length !== 1) throw new FhirError('bad-search', `Search parameter '${name}' may appear only once`, { expression: name });
  return values[0];
}

function integer(name: string, value: string, max: number): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) > max) throw badValue(name, value, `expected an integer from 0 to ${max}`);
  return Number(value);
}

/**
 * Parses a result parameter (_sort, _count, _offset, _total, _summary, _elements, _include,
 * _revinclude, _contained) into `out`. Returns false when `name` is not one.
 */
export function parseResultParam(
  type: string,
  name: string,
  values: string[],
  registry: SearchRegistry,
  opts: { maxCount?: number },
  out: ResultParams & { warnings: Issue[] },
  unknown: (name: string, why: string) => void,
): boolean {
  const [base, modifier] = name.split(':', 2);
  switch (base) {
    case '_sort': {
      out.sort = [];
      for (const item of single(name, values).split(',')) {
        const descending = item.startsWith('-');
        const code = descending ? item.slice(1) : item;
        const def = registry.get(type, code);
        if (code === WRITTEN_BY) throw new FhirError('bad-search', `Cannot sort by '${WRITTEN_BY}': a resource may have several writers`, { expression: '_sort' });
        if (!def || (def.type === 'composite' && !SORTABLE_RECORD_FIELDS.has(code))) {
          throw new FhirError('bad-search', `Cannot sort ${type} by '${code}': not a search parameter of ${type}`, { expression: '_sort' });
        }
        out.sort.push({ code, descending });
      }
      return true;
    }
    case '_count': {
      const max = opts.maxCount ?? 1000;
      const n = integer(name, single(name, values), 1_000_000_000);
      out.count = Math.min(n, max);
      if (n > max) out.warnings.push({ severity: 'warning', code: 'processing', diagnostics: `_count capped at ${max}`, expression: ['_count'] });
      return true;
    }
    case '_offset':
      out.offset = integer(name, single(name, values), MAX_OFFSET);
      return true;
    case '_total': {
      const v = single(name, values);
      if (!TOTALS.includes(v)) throw badValue(name, v, 'expected none, estimate or accurate');
      out.total = v as Total;
      return true;
    }
    case '_summary': {
      const v = single(name, values);
      if (!SUMMARIES.includes(v)) throw badValue(name, v, 'expected true, false, text, data or count');
      out.summary = v as Summary;
      return true;
    }
    case '_elements': {
      const list = values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
      for (const e of list) if (!ELEMENT.test(e)) throw badValue(name, e, 'expected element names');
      out.elements = [...new Set(list)];
      return true;
    }
    case '_include':
    case '_revinclude': {
      if (modifier !== undefined && modifier !== 'iterate' && modifier !== 'recurse') {
        throw new FhirError('bad-search', `Modifier ':${modifier}' is not supported on ${base}`, { expression: name });
      }
      for (const v of values) {
        const inc = parseInclude(base, v, modifier !== undefined, registry, unknown);
        if (inc) (base === '_include' ? out.include : out.revinclude).push(inc);
      }
      return true;
    }
    case '_contained':
    case '_containedType':
      unknown(name, `${base} is not supported`);
      return true;
    default:
      return false;
  }
}

function parseInclude(
  name: string,
  value: string,
  iterate: boolean,
  registry: SearchRegistry,
  unknown: (name: string, why: string) => void,
): IncludeParam | undefined {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9*_-]+$/.test(p))) {
    throw badValue(name, value, 'expected Type:parameter[:TargetType]');
  }
  const [type, code, target] = parts;
  if (!isServedType(type) || (target !== undefined && !isServedType(target))) {
    unknown(name, `Resource type in '${value}' is not served`);
    return undefined;
  }
  if (code !== '*') {
    const def = registry.get(type, code);
    if (!def || def.type !== 'reference') {
      unknown(name, `'${code}' is not a reference search parameter of ${type}`);
      return undefined;
    }
  }
  return { type, code, ...(target ? { target } : {}), iterate };
}
