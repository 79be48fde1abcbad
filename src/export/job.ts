import { createHash } from 'node:crypto';
import type { Issue } from '../errors.js';
import type { Store } from '../store/store.js';
import type { ExportParams } from './params.js';

export type ExportLevel = 'system' | 'patient' | 'group';

/** One NDJSON file of an export: a blob of the store. */
export interface ExportFile {
  type: string;
  /** SHA-256 of the blob. */
  blob: string;
  /** Bytes of the random first line the blob begins with, not served (files.ts); absent on files written before it. */
  salt?: number;
  count: number;
}

/**
 * An export job as kept in the store's internal state (never as a FHIR resource), under a key that
 * names its requester: another client looking for it finds nothing.
 */
export interface ExportJob {
  id: string;
  /** The requester's token claims, to act with their access when the job runs, in whatever process. */
  claims: { sub: string; fhirUser?: string; scope: string; patient?: string; purpose_of_use?: string[] };
  /** The kick-off request URL, as the manifest reports it. */
  request: string;
  level: ExportLevel;
  /** The Group id of a group-level export. */
  group?: string;
  /** The types exported, in the order they are written. */
  types: string[];
  params: Omit<ExportParams, 'types'>;
  /** Nothing changed after this instant is exported (a later export passes it as _since). */
  transactionTime: string;
  /** `cancelled`: being removed (DELETE, expiry); found by no one, and removed by the expiry job if a crash interrupts. */
  status: 'running' | 'done' | 'failed' | 'cancelled';
  /** When the job finished (done or failed): it is removed CARNET_EXPORT_KEEP seconds later. */
  finishedAt?: string;
  /** Where the job resumes: the index of the type being written, the last id written of it. */
  cursor: { type: number; after?: string };
  output: ExportFile[];
  /** With _since: the file of deletions, once written (after every type's files). */
  deleted?: ExportFile[];
  /** Resources written so far. */
  exported: number;
  /** What failed, for a failed job (the details are in the server log). */
  error?: string;
  /** A failure the client caused (a _typeFilter past the search budget): the status URL answers it (4xx). */
  failure?: { status: number; issues: Issue[] };
  /**
   * The patients whose records the files hold, as 'Patient/<id>', gathered as they are written (at
   * most MAX_NAMED_PATIENTS): the export's AuditEvents name them. Absent for an export of every
   * patient (a system client's system or patient level export).
   */
  patients?: string[];
  /** More patients than `patients` names are in the files. */
  morePatients?: boolean;
}

/** Patients named by an export's AuditEvents at most: past it, the events say there are more. */
export const MAX_NAMED_PATIENTS = 1000;

const PREFIX = 'export:';

/** Jobs are filed by a digest of their requester's subject: their key cannot be formed by another client. */
export function ownerKey(subject: string): string {
  return createHash('sha256').update(subject).digest('hex').slice(0, 32);
}

export function jobKey(subject: string, id: string): string {
  return `${PREFIX}${ownerKey(subject)}:${id}`;
}

export async function readJob(store: Store, key: string): Promise<{ job: ExportJob; rev: number } | undefined> {
  const entry = await store.getState(key);
  return entry && entry.value ? { job: entry.value as ExportJob, rev: entry.rev } : undefined;
}

/** Every job of the store (all requesters), a page at a time. */
export async function* allJobs(store: Store): AsyncGenerator<{ key: string; job: ExportJob }> {
  let after: string | undefined;
  for (;;) {
    const page = await store.listState(PREFIX, { after, limit: 500 });
    for (const e of page) yield { key: e.key, job: e.value as ExportJob };
    if (page.length < 500) return;
    after = page[page.length - 1]!.key;
  }
}

/** The jobs of one requester still running. */
export async function runningJobsOf(store: Store, subject: string): Promise<number> {
  let n = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.listState(`${PREFIX}${ownerKey(subject)}:`, { after, limit: 500 });
    n += page.filter((e) => (e.value as ExportJob).status === 'running').length;
    if (page.length < 500) return n;
    after = page[page.length - 1]!.key;
  }
}
