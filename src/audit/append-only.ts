import { fhirError } from '../errors.js';
import type { Principal } from '../auth/principal.js';
import type { FhirRequest } from '../interactions/types.js';
import { CHAIN_URL } from './chain.js';
import { REPORTED_TAG, SYSTEMS } from './event.js';

/**
 * AuditEvents are append-only: no update, patch or delete, for anyone. Only system clients add
 * events (integrations reporting their own), and those are tagged as reported, apart from what
 * carnet records. Checked for every request and every entry of a transaction, before the scopes.
 */
export function checkAuditWrite(req: FhirRequest, principal: Principal): void {
  if (req.type !== 'AuditEvent') return;
  if (req.interaction === 'update' || req.interaction === 'patch' || req.interaction === 'delete') {
    throw fhirError('method-not-allowed', `AuditEvent is append-only: ${req.interaction} is not allowed`);
  }
  if (req.interaction !== 'create') return;
  if (principal.fhirUser || !principal.scopes.some((s) => s.context === 'system')) {
    throw fhirError('forbidden', 'Only system clients may report AuditEvents');
  }
  const body = req.body as { resourceType?: unknown; meta?: { tag?: Array<{ system?: string }> } } | undefined;
  if (body?.resourceType !== 'AuditEvent' || typeof body !== 'object') return;
  const meta = body.meta && typeof body.meta === 'object' ? body.meta : {};
  // Neither carnet's origin nor its chains are the client's to claim ($verify finds the global chains' events by their tag).
  const tags = Array.isArray(meta.tag) ? meta.tag.filter((t) => t?.system !== SYSTEMS.origin && t?.system !== CHAIN_URL) : [];
  body.meta = { ...meta, tag: [...tags, REPORTED_TAG] };
}
