import { etag, httpDate, readVisible } from './records.js';
import type { InteractionHandler } from './types.js';

export const read: InteractionHandler = {
  name: 'read',
  traits: { readOnly: true, needsType: true },
  async handle(req, ctx) {
    const record = await readVisible(ctx, req.type!, req.id!);
    const tag = etag(record.versionId);
    if (req.ifNoneMatch && req.ifNoneMatch.replace(/^W\//, '') === tag.replace(/^W\//, '')) {
      return { status: 304, etag: tag };
    }
    if (req.ifModifiedSince) {
      const since = Date.parse(req.ifModifiedSince);
      // HTTP dates have second precision.
      if (!Number.isNaN(since) && Math.floor(Date.parse(record.lastUpdated) / 1000) * 1000 <= since) {
        return { status: 304, etag: tag };
      }
    }
    return { status: 200, body: record.resource, etag: tag, lastModified: httpDate(record.lastUpdated) };
  },
};
