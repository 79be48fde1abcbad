import type { ExportJob } from './job.js';

export const statusUrl = (baseUrl: string, id: string): string => `${baseUrl}/$export-status/${id}`;
export const fileUrl = (baseUrl: string, id: string, n: number): string => `${baseUrl}/$export-file/${id}/${n}`;

/** Every file of a job, as the file URLs number them. */
export const filesOf = (job: ExportJob) => [...job.output, ...(job.deleted ?? [])];

/** The complete manifest of a finished job (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status). */
export function manifest(job: ExportJob, baseUrl: string): Record<string, unknown> {
  return {
    transactionTime: job.transactionTime,
    request: job.request,
    // The files are served only to the client that asked, with its bearer token.
    requiresAccessToken: true,
    output: job.output.map((f, n) => ({ type: f.type, url: fileUrl(baseUrl, job.id, n), count: f.count })),
    // Numbered after the output files: one list of files per job.
    deleted: (job.deleted ?? []).map((f, n) => ({ type: f.type, url: fileUrl(baseUrl, job.id, job.output.length + n), count: f.count })),
    error: [],
  };
}

/** The X-Progress of a running job: what is written, and where it is. */
export function progress(job: ExportJob): string {
  const type = job.types[job.cursor.type];
  const done = `${job.exported} resources in ${job.output.length} files`;
  return type ? `${done}; exporting ${type} (type ${job.cursor.type + 1} of ${job.types.length})` : `${done}; finishing`;
}
