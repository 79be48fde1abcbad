import { fhirError } from '../errors.js';
import { etag, httpDate, readVisible } from './records.js';
import { binaryBytes, present } from './binary.js';
import { wantsRaw } from './read.js';
import type { InteractionHandler } from './types.js';

export const vread: InteractionHandler = {
  name: 'vread',
  traits: { readOnly: true, needsType: true },
  async handle(req, ctx) {
    const type = req.type!;
    const id = req.id!;
    // Visibility is decided on the current record: a caller who may not see it sees no version.
    const current = await ctx.store.read(type, id);
    if (current) await readVisible(ctx, type, id).catch((e) => {
      if (e.code !== 'gone') throw e;
    });
    const n = /^\d+$/.test(req.versionId ?? '') ? Number(req.versionId) : NaN;
    const version = Number.isNaN(n) ? undefined : await ctx.store.vread(type, id, n);
    if (!current || !version) throw fhirError('not-found', `${type}/${id}/_history/${req.versionId} is not known`);
    if (version.deleted) throw fhirError('gone', `${type}/${id} version ${n} is a deletion`);
    const headers = { etag: etag(version.versionId), lastModified: httpDate(version.lastUpdated) };
    if (type === 'Binary' && wantsRaw(req)) return { status: 200, raw: await binaryBytes(version.resource!, ctx), ...headers };
    return { status: 200, body: await present(version.resource!, ctx), ...headers };
  },
};
