import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SERVED_TYPES } from '../src/fhir/resource-types.js';
import { parseExact, withoutServerMeta } from './exact-json.js';
import { describeEngines, useServer, type TestServer } from './harness.js';

/**
 * Every official R4 example of a served type is accepted and reads back identical, decimals
 * written as in the file (meta.versionId and meta.lastUpdated aside). The examples shipped are in
 * test/fixtures/r4-examples (see NOTICE.md there); CARNET_R4_EXAMPLES names a folder with all of them.
 */
const served = new Set<string>(SERVED_TYPES);
const folders = [join(import.meta.dirname, 'fixtures', 'r4-examples'), ...(process.env.CARNET_R4_EXAMPLES ? [process.env.CARNET_R4_EXAMPLES] : [])];

function examples(): Array<{ file: string; text: string; resource: any }> {
  const out = new Map<string, { file: string; text: string; resource: any }>();
  for (const folder of folders) {
    for (const file of readdirSync(folder).filter((f) => f.endsWith('.json')).sort()) {
      const text = readFileSync(join(folder, file), 'utf8');
      const resource = JSON.parse(text);
      if (served.has(resource.resourceType)) out.set(file, { file, text, resource });
    }
  }
  return [...out.values()];
}

/** base64Binary whitespace carries nothing (XML Schema): the bytes are stored, and served without it. */
function comparable(exact: any): any {
  return exact.resourceType === 'Binary' && typeof exact.data === 'string' ? { ...exact, data: exact.data.replace(/\s+/g, '') } : exact;
}

const all = examples();

describeEngines('conformance: the official R4 examples', (engine) => {
  let s: TestServer;
  let token: string;
  // useServer's token is a system client's.
  useServer(engine, (server, system) => {
    s = server;
    token = system;
  });

  it(`has examples to check (${all.length} of the served types)`, () => {
    expect(all.length).toBeGreaterThanOrEqual(12);
  });

  it.each(all.map((e) => [e.file, e] as const))('accepts %s and reads it back identical', async (_file, { text, resource }) => {
    // An example with an id is written there (update as create); one without gets an id from carnet.
    const headers = { 'content-type': 'application/fhir+json' };
    const write = resource.id
      ? await s.request({ method: 'PUT', url: `/fhir/${resource.resourceType}/${resource.id}`, token, body: text, headers })
      : await s.request({ method: 'POST', url: `/fhir/${resource.resourceType}`, token, body: text, headers });
    expect([200, 201], write.text).toContain(write.status);
    const id = resource.id ?? write.body.id;
    const read = await s.request({ method: 'GET', url: `/fhir/${resource.resourceType}/${id}`, token, headers: { accept: 'application/fhir+json' } });
    expect(read.status).toBe(200);
    const sent = { ...(parseExact(text) as object), id };
    expect(comparable(withoutServerMeta(parseExact(read.text)))).toEqual(comparable(withoutServerMeta(sent)));
  });
});
