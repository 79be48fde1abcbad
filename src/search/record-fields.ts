/** Searched on the record's own `id` and `lastUpdated` fields, so not in idx. */
export const RECORD_FIELD_PARAMS: Record<string, string> = { _id: 'id', _lastUpdated: 'lastUpdated' };

/**
 * carnet's `written-by`: the users who wrote a resource's versions, as the server recorded them
 * from the tokens (CurrentRecord.by), never as the body claims. No FHIRPath expression reads it:
 * it is searched on the record's `by` field (conformance/search-parameters/Resource-written-by.json).
 */
export const WRITTEN_BY = 'written-by';
