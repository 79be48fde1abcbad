import { Readable } from 'node:stream';
import { fhirError } from '../errors.js';
import { ID_PATTERN, isServedType, type Resource } from '../fhir/resource-types.js';
import { BlobTooLarge, type BlobInfo } from '../store/store.js';
import { isMediaType } from '../validation/media-type.js';
import { BASE64_BINARY } from '../validation/schema-fixes.js';
import type { Context } from './types.js';

/**
 * Binary content lives in the store's blobs, not in the resource JSON: the stored Binary keeps a
 * reference to its blob in meta.extension; `data` is restored when a Binary is served as FHIR JSON
 * and the bytes are streamed as they are otherwise (IHE MHD ITI-68).
 */
export const BLOB_EXTENSION = 'urn:carnet:fhir:binary-blob';

interface MetaExtension {
  url: string;
  valueString?: string;
}

export function blobOf(resource: Resource | undefined): string | undefined {
  const ext = (resource?.meta?.extension as MetaExtension[] | undefined)?.find((e) => e.url === BLOB_EXTENSION);
  return ext?.valueString;
}

export function withoutBlobMarker(resource: Resource): Resource {
  const meta = { ...(resource.meta ?? {}) };
  const rest = (meta.extension as MetaExtension[] | undefined)?.filter((e) => e.url !== BLOB_EXTENSION) ?? [];
  if (rest.length > 0) meta.extension = rest;
  else delete meta.extension;
  return { ...resource, meta };
}

/**
 * The reference an X-Security-Context header stands for (FHIR R4 binary.html#rest): `Type/id` of a
 * type this server serves, or that resource's absolute URL on this server, kept relative.
 */
export function securityContextReference(header: string, baseUrl: string): string {
  const relative = header.startsWith(`${baseUrl}/`) ? header.slice(baseUrl.length + 1) : header;
  const [type, id, ...rest] = relative.split('/');
  if (rest.length === 0 && type !== undefined && isServedType(type) && id !== undefined && ID_PATTERN.test(id)) return relative;
  throw fhirError('bad-request', `X-Security-Context must be a reference Type/id to a resource this server serves, or its URL on this server (${baseUrl}/Type/id)`, 'Binary.securityContext');
}

async function put(ctx: Context, content: AsyncIterable<Uint8Array> | Uint8Array): Promise<BlobInfo> {
  try {
    return await ctx.store.putBlob(content, { maxBytes: ctx.limits.binaryBytes });
  } catch (e) {
    if (e instanceof BlobTooLarge) throw fhirError('too-large', `Binary content is larger than this server accepts (${ctx.limits.binaryBytes} bytes)`, 'Binary.data');
    throw e;
  }
}

/** The Binary as stored: its content moved to a blob (from base64 `data`, or from a raw body). */
export async function storeBinaryContent(resource: Resource, ctx: Context, raw?: Readable): Promise<{ resource: Resource; blob?: BlobInfo }> {
  let blob: BlobInfo | undefined;
  // Stopping at the size limit must not destroy the request: the client is owed a 413.
  if (raw) blob = await put(ctx, raw.iterator({ destroyOnReturn: false }));
  else if (typeof resource.data === 'string') {
    // The same rule as validation: base64Binary allows whitespace, which the decoder skips.
    if (!BASE64_BINARY.test(resource.data)) throw fhirError('invalid-resource', 'Binary.data is not base64', 'Binary.data');
    blob = await put(ctx, Buffer.from(resource.data, 'base64'));
  }
  const { data: _data, ...rest } = resource;
  if (!blob) return { resource: rest as Resource };
  const meta = rest.meta ?? {};
  const extension = [...((meta.extension as MetaExtension[] | undefined) ?? []).filter((e) => e.url !== BLOB_EXTENSION), { url: BLOB_EXTENSION, valueString: blob.sha256 }];
  return { resource: { ...rest, meta: { ...meta, extension } } as Resource, blob };
}

/** A Binary as FHIR JSON for a client: `data` restored from its blob, the internal marker removed. */
export async function presentBinary(resource: Resource, ctx: Context): Promise<Resource> {
  const sha256 = blobOf(resource);
  if (!sha256) return resource;
  const opened = await ctx.store.openBlob(sha256);
  const out = withoutBlobMarker(resource);
  if (!opened) return out;
  const chunks: Buffer[] = [];
  for await (const chunk of opened.stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  return { ...out, data: Buffer.concat(chunks).toString('base64') };
}

/** Any resource as served to a client (only Binary differs from what is stored). */
export async function present(resource: Resource, ctx: Context): Promise<Resource> {
  return resource.resourceType === 'Binary' ? presentBinary(resource, ctx) : resource;
}

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/**
 * A resource as an entry of a search or history Bundle: a Binary comes without its content (a page
 * of documents could weigh gigabytes), tagged SUBSETTED; read it, or vread it, for the bytes.
 */
export function presentInBundle(resource: Resource): Resource {
  if (resource.resourceType !== 'Binary' || !blobOf(resource)) return resource;
  const out = withoutBlobMarker(resource);
  return { ...out, meta: { ...(out.meta ?? {}), tag: [...(out.meta?.tag ?? []), SUBSETTED] } };
}

/** The raw content of a stored Binary, to stream with its content type. */
export async function binaryBytes(resource: Resource, ctx: Context): Promise<{ contentType: string; size: number; stream: NodeJS.ReadableStream }> {
  // A content type stored before they were checked on write may be one no HTTP header can carry.
  const contentType = typeof resource.contentType === 'string' && isMediaType(resource.contentType) ? resource.contentType : 'application/octet-stream';
  const sha256 = blobOf(resource);
  const opened = sha256 ? await ctx.store.openBlob(sha256) : undefined;
  if (!opened) return { contentType, size: 0, stream: Readable.from([]) };
  return { contentType, size: opened.info.size, stream: opened.stream };
}
