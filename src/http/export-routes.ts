import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Auditor } from '../audit/auditor.js';
import type { Principal } from '../auth/principal.js';
import { FhirError, fhirError, informational, operationOutcome } from '../errors.js';
import { jobEntities } from '../export/audit.js';
import { openFile } from '../export/files.js';
import type { ExportJob } from '../export/job.js';
import { filesOf, manifest, progress } from '../export/manifest.js';
import type { ExportRunner } from '../export/runner.js';
import type { FhirRequest, FhirResult } from '../interactions/types.js';
import type { Store } from '../store/store.js';
import { principalOf } from './auth-hook.js';
import { sendResult } from './reply.js';

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Seconds a client is asked to wait between two polls of a running export. */
const RETRY_AFTER = '2';

/**
 * The status URL and the files of Bulk Data exports: found only through the requester's own token
 * subject, so that another client, whatever its scopes, gets the 404 of what does not exist. Each
 * request leaves its AuditEvent, durable before the answer, like any interaction (an operation
 * naming the job, and the patients whose records the files hold).
 */
export function registerExportRoutes(app: FastifyInstance, deps: { runner: ExportRunner; store: Store; baseUrl: string; auditor: Auditor }): void {
  const unknown = () => fhirError('not-found', 'No such export (it may have been deleted)');
  const jobOf = async (id: string, principal: Principal): Promise<ExportJob> => {
    const job = JOB_ID.test(id) ? await deps.runner.find(principal.subject, id) : undefined;
    if (!job) throw unknown();
    return job;
  };
  /** When the files of a finished job stop being served (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status). */
  const expires = (job: ExportJob) => new Date(Date.parse(job.finishedAt ?? job.transactionTime) + deps.runner.keepMs).toUTCString();

  const audited = (operation: string, handle: (id: string, principal: Principal, req: FastifyRequest) => Promise<FhirResult>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const { id } = req.params as { id: string };
      const principal = principalOf(req);
      const fhirReq: FhirRequest = { interaction: 'operation', operation, query: {} };
      const result = await deps.auditor.around(fhirReq, principal, req.id, req.log, () => undefined, () => handle(id, principal, req));
      return sendResult(req, reply, result);
    };

  app.get('/fhir/$export-status/:id', audited('export-poll-status', async (id, principal): Promise<FhirResult> => {
    const job = await jobOf(id, principal);
    if (job.status === 'running') {
      // Progress only (counts): the patients are named once the files can be had, not at every poll.
      return { status: 202, headers: { 'x-progress': progress(job), 'retry-after': RETRY_AFTER }, auditEntities: jobEntities(job, 'status: in progress', false) };
    }
    if (job.status === 'failed') {
      // A failure the client caused answers its 4xx (Bulk Data, "Response - Error Status"); the server's, 500.
      if (!job.failure) throw new FhirError('internal', job.error ?? 'The export failed');
      return { status: job.failure.status, body: operationOutcome(job.failure.issues), auditEntities: jobEntities(job, 'status: failed') };
    }
    const body = Buffer.from(JSON.stringify(manifest(job, deps.baseUrl)));
    return {
      status: 200,
      headers: { expires: expires(job) },
      // The manifest is plain JSON, not a FHIR resource.
      raw: { contentType: 'application/json; charset=utf-8', size: body.byteLength, stream: Readable.from([body], { objectMode: false }) },
      auditEntities: jobEntities(job, 'status: complete, manifest sent'),
    };
  }));

  app.delete('/fhir/$export-status/:id', audited('export-delete', async (id, principal): Promise<FhirResult> => {
    const job = await jobOf(id, principal);
    if (!(await deps.runner.cancel(principal.subject, job.id))) throw unknown();
    return { status: 202, body: informational('The export is cancelled and its files removed'), auditEntities: jobEntities(job, 'deleted with its files') };
  }));

  app.get('/fhir/$export-file/:id/:n', audited('export-file', async (id, principal, req): Promise<FhirResult> => {
    const job = await jobOf(id, principal);
    const n = Number((req.params as { n: string }).n);
    const file = job.status === 'done' && Number.isInteger(n) ? filesOf(job)[n] : undefined;
    const opened = file && (await openFile(deps.store, file));
    if (!opened) throw unknown();
    return {
      status: 200,
      headers: { expires: expires(job) },
      raw: { contentType: 'application/fhir+ndjson', size: opened.size, stream: opened.stream },
      auditEntities: jobEntities(job, `file ${n} downloaded (${file.type}, ${file.count} resources)`),
    };
  }));
}
