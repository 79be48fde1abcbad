import { createHash } from 'node:crypto';
import { FhirError, type Issue } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import type { BlobInfo, CurrentRecord } from '../store/store.js';
import { blobOf } from './binary.js';
import { buildRecord, canSee } from './records.js';
import type { Context } from './types.js';

interface Attachment {
  url?: string;
  data?: string;
  size?: number;
  hash?: string;
}

/** The id of a Binary of this server an attachment URL points to (relative or absolute), if any. */
export function localBinaryId(url: string | undefined, baseUrl: string): string | undefined {
  if (!url) return undefined;
  const rel = url.startsWith(`${baseUrl}/`) ? url.slice(baseUrl.length + 1) : url;
  const m = /^Binary\/([A-Za-z0-9\-.]{1,64})$/.exec(rel);
  return m?.[1];
}

async function contentOf(att: Attachment, ctx: Context): Promise<BlobInfo | undefined> {
  if (typeof att.data === 'string') {
    const bytes = Buffer.from(att.data, 'base64');
    return { sha256: createHash('sha256').update(bytes).digest('hex'), sha1: createHash('sha1').update(bytes).digest('base64'), size: bytes.length };
  }
  const id = localBinaryId(att.url, ctx.baseUrl);
  if (!id) return undefined;
  const pending = ctx.transaction?.blobs.get(`Binary/${id}`);
  if (pending) return pending;
  const binary = await visibleBinary(id, ctx);
  const sha256 = binary ? blobOf(binary.resource) : undefined;
  return sha256 ? ctx.store.statBlob(sha256) : undefined;
}

/** A stored Binary the caller may see, or undefined: what the caller may not see is not there. */
async function visibleBinary(id: string, ctx: Context): Promise<CurrentRecord | undefined> {
  const binary = await ctx.store.read('Binary', id);
  return binary && !binary.deleted && (await canSee(binary, ctx)) ? binary : undefined;
}

function attachmentsOf(resource: Resource): Attachment[] {
  const contents = (resource.content as Array<{ attachment?: Attachment }> | undefined) ?? [];
  return contents.flatMap((c) => (c.attachment ? [c.attachment] : []));
}

/**
 * The stored Binaries a document points to that belong to nothing yet (no securityContext): each
 * gets the document as its context, in the same commit as the document, so whoever may see the
 * document may read its content (a Binary posted first, then its DocumentReference).
 */
export async function binaryLinks(record: CurrentRecord, ctx: Context): Promise<CurrentRecord[]> {
  if (record.type !== 'DocumentReference' || !record.resource) return [];
  const out: CurrentRecord[] = [];
  const seen = new Set<string>();
  for (const att of attachmentsOf(record.resource)) {
    const id = localBinaryId(att.url, ctx.baseUrl);
    if (!id || seen.has(id) || ctx.transaction?.blobs.has(`Binary/${id}`)) continue;
    seen.add(id);
    const binary = await visibleBinary(id, ctx);
    if (!binary?.resource || binary.resource.securityContext !== undefined) continue;
    const linked = buildRecord({ ...binary.resource, securityContext: { reference: `DocumentReference/${record.id}` } }, 'Binary', id, binary, ctx);
    out.push({ ...linked, comp: [...new Set([...linked.comp, ...record.comp])] });
  }
  return out;
}

/**
 * attachment.size and attachment.hash (SHA-1, base64, as IHE MHD defines them) must describe the
 * bytes they point to: inline data, or a Binary of this server (stored, or created by the same
 * transaction). A mismatch is 422 and nothing is written.
 */
export async function checkAttachments(resource: Resource, ctx: Context): Promise<void> {
  if (resource.resourceType !== 'DocumentReference') return;
  const issues: Issue[] = [];
  const contents = (resource.content as Array<{ attachment?: Attachment }> | undefined) ?? [];
  for (const [i, c] of contents.entries()) {
    const att = c.attachment;
    if (!att) continue;
    const local = localBinaryId(att.url, ctx.baseUrl);
    if (!local && att.size === undefined && att.hash === undefined) continue;
    const info = await contentOf(att, ctx);
    const path = `DocumentReference.content[${i}].attachment`;
    if (!info) {
      // A Binary the writer may not see answers as one that does not exist: no size, no hash, no hint.
      if (local) issues.push({ severity: 'error', code: 'not-found', diagnostics: `${path}.url points to a Binary that does not exist`, expression: [`${path}.url`] });
      continue;
    }
    if (att.size === undefined && att.hash === undefined) continue;
    if (att.size !== undefined && Number(att.size) !== info.size) {
      issues.push({ severity: 'error', code: 'invalid', diagnostics: `${path}.size is ${att.size} but the content has ${info.size} bytes`, expression: [`${path}.size`] });
    }
    if (att.hash !== undefined && att.hash !== info.sha1) {
      issues.push({ severity: 'error', code: 'invalid', diagnostics: `${path}.hash is not the SHA-1 (base64) of the content, which is ${info.sha1}`, expression: [`${path}.hash`] });
    }
  }
  if (issues.length > 0) throw new FhirError('invalid-resource', issues[0].diagnostics, { issues });
}
