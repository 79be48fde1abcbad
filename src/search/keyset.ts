import type { CurrentRecord, SortKey } from '../store/store.js';
import type { Filter } from './compile.js';

/**
 * Keyset paging: the next page is what sorts after the last record of this page, the previous one
 * what sorts before its first, whatever was written, deleted or changed in between. The engines
 * order a missing sort value last in both directions, then by type and id (src/store/store.ts).
 */
export type SortValue = string | number | null;

/** The complete order a search uses: its keys, then the engines' tie-break. */
export function fullOrder(sort: SortKey[]): SortKey[] {
  const seen = new Set(sort.map(([f]) => f));
  return [...sort, ...(['type', 'id'] as const).filter((f) => !seen.has(f)).map((f): SortKey => [f, 1])];
}

function valueAt(record: CurrentRecord, field: string): SortValue {
  let v: unknown = record;
  for (const part of field.split('.')) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[part];
  return typeof v === 'string' || typeof v === 'number' ? v : null;
}

/** The position of a record in the order: its value for every key. */
export function keyOf(record: CurrentRecord, order: SortKey[]): SortValue[] {
  return order.map(([field]) => valueAt(record, field));
}

const missing = (field: string): Filter => ({ [field]: { $exists: false } });
const equal = (field: string, v: SortValue): Filter => (v === null ? missing(field) : { [field]: v });

/** Records whose value for one key comes strictly after (or before) v. */
function beyond(field: string, direction: 1 | -1, v: SortValue, after: boolean): Filter | undefined {
  if (after) {
    // Missing values come last: nothing is after a missing value but what ties with it.
    if (v === null) return undefined;
    return { $or: [{ [field]: { [direction === 1 ? '$gt' : '$lt']: v } }, missing(field)] };
  }
  if (v === null) return { [field]: { $exists: true } };
  return { [field]: { [direction === 1 ? '$lt' : '$gt']: v } };
}

/** The clause selecting the records after (or before) `key` in `order` (lexicographic). */
export function keysetClause(order: SortKey[], key: SortValue[], after: boolean): Filter {
  const alternatives: Filter[] = [];
  for (let i = 0; i < order.length; i++) {
    const [field, direction] = order[i];
    const step = beyond(field, direction, key[i], after);
    if (!step) continue;
    const ties = order.slice(0, i).map(([f], j) => equal(f, key[j]));
    alternatives.push(ties.length ? { $and: [...ties, step] } : step);
  }
  return alternatives.length === 0 ? { id: { $in: [] } } : alternatives.length === 1 ? alternatives[0] : { $or: alternatives };
}
