import { Query } from 'mingo';
import type { Filter } from '../search/compile.js';
import type { CurrentRecord, Store } from '../store/store.js';
import { writeFile } from './files.js';
import type { ExportFile, ExportJob } from './job.js';

const PAGE = 1000;

/**
 * The resources of an export's types deleted after its _since (and by its transactionTime) and
 * still deleted, that the requester may see (the level and access clauses tested on the deletion's
 * record: it keeps its compartments and writers): one NDJSON file of transaction Bundles with a
 * DELETE entry each (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status).
 * Undefined when there is none. Read from the type histories a page at a time; the deleted
 * references seen are kept to write each once.
 */
export async function deletedFile(store: Store, job: ExportJob, scopeOf: (type: string) => Promise<Filter>, signal: AbortSignal): Promise<ExportFile | undefined> {
  const since = job.params.since!;
  let count = 0;
  const lines = async function* (): AsyncGenerator<Uint8Array> {
    for (const type of job.types) {
      const seen = new Set<string>();
      const visible = new Query(await scopeOf(type));
      for (let offset = 0; ; offset += PAGE) {
        if (signal.aborted) throw signal.reason;
        const { records } = await store.history({ type, since, at: job.transactionTime, offset, limit: PAGE });
        const out: string[] = [];
        for (const version of records) {
          if (!version.deleted || version.lastUpdated <= since || seen.has(version.id)) continue;
          seen.add(version.id);
          const current = await store.read(type, version.id);
          if (!current?.deleted || current.lastUpdated > job.transactionTime || !visible.test(current as CurrentRecord & Record<string, unknown>)) continue;
          count += 1;
          out.push(`${JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `${type}/${version.id}` } }] })}\n`);
        }
        if (out.length > 0) yield Buffer.from(out.join(''));
        if (records.length < PAGE) break;
      }
    }
  };
  const file = await writeFile(store, lines());
  if (count > 0) return { type: 'Bundle', ...file, count };
  await store.deleteBlob(file.blob);
  return undefined;
}
