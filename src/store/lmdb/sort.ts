import type { CurrentRecord, SortKey } from '../store.js';

/**
 * Orders records by the sort keys, then by type and id. A record without a value for a key comes
 * after those with one, in either direction; an array sorts by its least element ascending and its
 * greatest descending, as MongoDB does.
 */
export function compareBy(sort: SortKey[]): (a: CurrentRecord, b: CurrentRecord) => number {
  const keys: Array<[string[], 1 | -1]> = [...sort, ['type', 1] as SortKey, ['id', 1] as SortKey].map(
    ([field, direction]) => [field.split('.'), direction],
  );
  return (a, b) => {
    for (const [path, direction] of keys) {
      const order = compareField(valuesAt(a, path), valuesAt(b, path), direction);
      if (order !== 0) return order;
    }
    return 0;
  };
}

function compareField(a: unknown[], b: unknown[], direction: 1 | -1): number {
  if (a.length === 0 || b.length === 0) return (a.length === 0 ? 1 : 0) - (b.length === 0 ? 1 : 0);
  const pick = (values: unknown[]) =>
    values.reduce((best, v) => (compareValues(v, best) * direction < 0 ? v : best));
  return compareValues(pick(a), pick(b)) * direction;
}

function valuesAt(value: unknown, path: string[]): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuesAt(v, path));
  if (path.length === 0) return value === undefined || value === null ? [] : [value];
  if (typeof value !== 'object' || value === null) return [];
  return valuesAt((value as Record<string, unknown>)[path[0]!], path.slice(1));
}

/** MongoDB's order between types: numbers, strings, objects, booleans. */
const rank = (v: unknown): number =>
  typeof v === 'number' ? 0 : typeof v === 'string' ? 1 : typeof v === 'boolean' ? 3 : 2;

function compareValues(a: unknown, b: unknown): number {
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank;
  if (typeof a === 'number' || typeof a === 'string' || typeof a === 'boolean') {
    return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  }
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}
