import { fhirError } from '../errors.js';
import { canSee, etag, httpDate, unknown, versionVisible } from './records.js';
import { binaryBytes, present } from './binary.js';
import { wantsRaw } from './read.js';
import type { InteractionHandler } from './types.js';

export const vread: InteractionHandler = {
  name: 'vread',
  traits: { readOnly: true, needsType: true },
  async handle(req, ctx) {
    const type = req.type!;
    const id = req.id!;
    const n = /^\d+$/.test(req.versionId ?? '') ? Number(req.versionId) : NaN;
    // A version is served when the caller may see the resource now and that version itself:
    // otherwise the answer is the one for a version that never existed.
    const current = await ctx.store.read(type, id);
    const version = current && !Number.isNaN(n) && (await canSee(current, ctx)) ? await ctx.store.vread(type, id, n) : undefined;
    if (!current || !version || !versionVisible(version, current, ctx)) throw unknown(type, id, req.versionId);
    if (version.deleted) throw fhirError('gone', `${type}/${id} version ${n} is a deletion`);
    const headers = { etag: etag(version.versionId), lastModified: httpDate(version.lastUpdated) };
    if (type === 'Binary' && wantsRaw(req)) return { status: 200, raw: await binaryBytes(version.resource!, ctx), ...headers };
    return { status: 200, body: await present(version.resource!, ctx), ...headers };
  },
};
