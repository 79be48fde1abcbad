import { MHD_LIST_TYPES } from './codes.js';

type Coded = { code?: { coding?: Array<{ system?: string; code?: string }> } };

/** Whether a resource is an MHD List of the given type (submissionset or folder). */
export function isMhdList(resource: unknown, type: 'submissionset' | 'folder'): boolean {
  const r = resource as ({ resourceType?: string } & Coded) | undefined;
  return r?.resourceType === 'List' && (r.code?.coding ?? []).some((c) => c?.system === MHD_LIST_TYPES && c.code === type);
}
