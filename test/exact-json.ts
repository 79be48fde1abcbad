/**
 * JSON parsed with each number kept as its source text (`{ $number: '1.0' }`), so that a test can
 * tell `1.0` from `1`: what FHIR decimals require (http://hl7.org/fhir/R4/json.html#primitive).
 */
export function parseExact(text: string): unknown {
  const wrapped = text.replace(/"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (t) => (t[0] === '"' ? t : `{"$number":"${t}"}`));
  return JSON.parse(wrapped);
}

/** A resource as parseExact gives it, without what the server sets (meta.versionId, meta.lastUpdated). */
export function withoutServerMeta(resource: any): any {
  if (!resource?.meta) return resource;
  const { versionId: _v, lastUpdated: _l, ...meta } = resource.meta;
  const out = { ...resource, meta };
  if (Object.keys(meta).length === 0) delete out.meta;
  return out;
}
