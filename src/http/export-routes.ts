import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FhirError, fhirError, informational } from '../errors.js';
import { filesOf, manifest, progress } from '../export/manifest.js';
import type { ExportRunner } from '../export/runner.js';
import type { Store } from '../store/store.js';
import { principalOf } from './auth-hook.js';
import { sendJson } from './reply.js';

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Seconds a client is asked to wait between two polls of a running export. */
const RETRY_AFTER = '2';

/**
 * The status URL and the files of Bulk Data exports: found only through the requester's own token
 * subject, so that another client, whatever its scopes, gets the 404 of what does not exist.
 */
export function registerExportRoutes(app: FastifyInstance, deps: { runner: ExportRunner; store: Store; baseUrl: string }): void {
  const unknown = () => fhirError('not-found', 'No such export (it may have been deleted)');
  const jobOf = async (req: FastifyRequest) => {
    const { id } = req.params as { id: string };
    const job = JOB_ID.test(id) ? await deps.runner.find(principalOf(req).subject, id) : undefined;
    if (!job) throw unknown();
    return job;
  };

  app.get('/fhir/$export-status/:id', async (req, reply) => {
    const job = await jobOf(req);
    if (job.status === 'running') {
      reply.header('x-progress', progress(job)).header('retry-after', RETRY_AFTER);
      return reply.code(202).send();
    }
    if (job.status === 'failed') throw new FhirError('internal', job.error ?? 'The export failed');
    return reply.code(200).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(manifest(job, deps.baseUrl)));
  });

  app.delete('/fhir/$export-status/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!JOB_ID.test(id) || !(await deps.runner.cancel(principalOf(req).subject, id))) throw unknown();
    return sendJson(req, reply, 202, informational('The export is cancelled and its files removed'));
  });

  app.get('/fhir/$export-file/:id/:n', async (req, reply) => {
    const job = await jobOf(req);
    const n = Number((req.params as { n: string }).n);
    const file = job.status === 'done' && Number.isInteger(n) ? filesOf(job)[n] : undefined;
    const opened = file && (await deps.store.openBlob(file.blob));
    if (!opened) throw unknown();
    return reply
      .code(200)
      .header('content-type', 'application/fhir+ndjson')
      .header('content-length', String(opened.info.size))
      .header('x-content-type-options', 'nosniff')
      .send(opened.stream);
  });
}
