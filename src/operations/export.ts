import { randomUUID } from 'node:crypto';
import { authorize, authorizeTypes } from '../access/permissions.js';
import { fhirError, informational } from '../errors.js';
import type { ExportJob, ExportLevel } from '../export/job.js';
import { statusUrl } from '../export/manifest.js';
import { parseExportParams, rawParams } from '../export/params.js';
import type { ExportRunner } from '../export/runner.js';
import { exportableTypes, groupMembers } from '../export/scope.js';
import { exportEntities, kickOffPatients } from '../export/audit.js';
import { readVisible } from '../interactions/records.js';
import type { Context, FhirRequest } from '../interactions/types.js';
import type { OperationHandler } from './types.js';
import definition from './export.json' with { type: 'json' };

function levelOf(req: FhirRequest): ExportLevel {
  if (req.type === undefined) return 'system';
  if (req.type === 'Patient' && req.id === undefined) return 'patient';
  if (req.type === 'Group' && req.id !== undefined) return 'group';
  throw fhirError('bad-request', '$export is served at /$export, /Patient/$export and /Group/[id]/$export');
}

/** The kick-off request URL as the manifest reports it: a POST's parameters are in its body, not here. */
function requestUrl(req: FhirRequest, ctx: Context, level: ExportLevel): string {
  const path = level === 'system' ? '/$export' : level === 'patient' ? '/Patient/$export' : `/Group/${req.id}/$export`;
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) for (const value of Array.isArray(v) ? v : [v]) query.append(k, value);
  const qs = query.toString();
  return `${ctx.baseUrl}${path}${qs ? `?${qs}` : ''}`;
}

/**
 * Who may export what (README, "Bulk export"): the system level is for system clients; the patient
 * and group levels for any caller, whose export holds what their access lets them read (a patient:
 * their own record); a group only when the caller may read the Group.
 */
export function exportOperation(runner: ExportRunner): OperationHandler {
  return {
    name: 'export',
    definition,
    affectsState: false,
    async handle(req, ctx) {
      if (!req.preferAsync) throw fhirError('bad-request', '$export runs in the background: send the header Prefer: respond-async');
      const level = levelOf(req);
      if (level === 'system' && ctx.facts.actor.kind !== 'system') throw fhirError('forbidden', 'A system-level export is for system clients; export Patient/$export instead');
      if (level === 'group') {
        authorize(ctx.principal, 'Group', 'read');
        await readVisible(ctx, 'Group', req.id!);
      }
      const exportable = exportableTypes(level, ctx.registry);
      const params = parseExportParams(rawParams(req.query, req.body), exportable, ctx.registry, ctx.baseUrl);
      // Asked-for types need the caller's search grant each; by default, the types they may search.
      const types = params.types ? params.types.filter((t) => authorize(ctx.principal, t, 'search-type')) : [...authorizeTypes(ctx.principal, exportable, 'search-type').keys()];
      const { types: _types, ...rest } = params;
      const p = ctx.principal;
      const members = level === 'group' ? await groupMembers(ctx.store, req.id!) : undefined;
      // A system client's export of every patient lists none of them; any other gathers whose records its files hold.
      const collects = level === 'group' || ctx.facts.actor.kind !== 'system';
      const job: ExportJob = {
        id: randomUUID(),
        claims: {
          sub: p.subject,
          scope: p.scope,
          ...(p.fhirUser ? { fhirUser: p.fhirUser.reference } : {}),
          ...(p.patient ? { patient: p.patient } : {}),
          ...(p.purposeOfUse ? { purpose_of_use: p.purposeOfUse } : {}),
        },
        request: requestUrl(req, ctx, level),
        level,
        ...(level === 'group' ? { group: req.id } : {}),
        types,
        params: rest,
        transactionTime: ctx.now().toISOString(),
        status: 'running',
        cursor: { type: 0 },
        output: [],
        exported: 0,
        ...(collects ? { patients: [] } : {}),
      };
      await runner.kickOff(job);
      return {
        status: 202,
        headers: { 'content-location': statusUrl(ctx.baseUrl, job.id) },
        body: informational(`The export has started; poll ${statusUrl(ctx.baseUrl, job.id)} for its progress and manifest`),
        auditEntities: exportEntities(job.id, `${level}-level export started`, { patients: kickOffPatients(level, ctx.facts, members) }),
      };
    },
  };
}
