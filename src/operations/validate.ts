import { fhirError, operationOutcome, type Issue } from '../errors.js';
import type { Resource } from '../fhir/resource-types.js';
import { readVisible } from '../interactions/records.js';
import { checkBody } from '../interactions/write-checks.js';
import type { OperationHandler } from './types.js';
import { checkSizeLimits } from '../validation/limits.js';
import definition from './validate.json' with { type: 'json' };


interface ParametersResource {
  resourceType: 'Parameters';
  parameter?: Array<{ name: string; resource?: Resource; valueUri?: string; valueCode?: string; valueCanonical?: string }>;
}

function unpack(body: unknown): { resource?: unknown; mode?: string; profile?: string } {
  if ((body as ParametersResource)?.resourceType !== 'Parameters') return { resource: body };
  const params = (body as ParametersResource).parameter ?? [];
  const get = (n: string) => params.find((p) => p.name === n);
  return {
    resource: get('resource')?.resource,
    mode: get('mode')?.valueCode,
    profile: get('profile')?.valueUri ?? get('profile')?.valueCanonical,
  };
}

export const validate: OperationHandler = {
  name: 'validate',
  definition,
  affectsState: false,
  async handle(req, ctx) {
    const type = req.type!;
    const { resource: given, mode, profile: bodyProfile } = unpack(req.body);
    const profileParam = req.query.profile;
    const profile = bodyProfile ?? (Array.isArray(profileParam) ? profileParam[0] : profileParam);
    if (mode !== undefined && !['create', 'update', 'delete'].includes(mode)) {
      throw fhirError('bad-request', `mode must be create, update or delete, got "${mode}"`);
    }
    let resource: Resource | undefined;
    if (req.id !== undefined) {
      const current = await readVisible(ctx, type, req.id);
      resource = given !== undefined ? checkBody(given, type, req.id) : current.resource;
    } else {
      if (given === undefined) throw fhirError('bad-request', 'Send the resource to validate as the body, or in a Parameters resource');
      resource = checkBody(given, type);
    }
    if (mode === 'delete') {
      return { status: 200, body: operationOutcome([{ severity: 'information', code: 'informational', diagnostics: 'The resource may be deleted' }]) };
    }
    // A resource the server would refuse to store for its size is refused here too, before the costly part.
    checkSizeLimits(resource, ctx.limits, type);
    const { issues } = ctx.validator.validate(resource, { profile });
    const all: Issue[] = issues.length > 0 ? issues : [{ severity: 'information', code: 'informational', diagnostics: 'No problems found' }];
    // $validate reports problems with 200; the client reads the issues' severities (FHIR R4 resource-operation-validate).
    return { status: 200, body: operationOutcome(all) };
  },
};
