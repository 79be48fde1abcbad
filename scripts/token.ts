/**
 * Mints an access token from the local development issuer and prints it alone on stdout:
 *   TOKEN=$(npm run -s token -- --fhir-user Practitioner/123 --scope "user/*.cruds")
 */
import { parseArgs } from 'node:util';
import { ensureLocalIssuer } from '../src/auth/local-issuer.js';
import { parseFhirUser } from '../src/auth/principal.js';
import { ID_PATTERN } from '../src/fhir/resource-types.js';
import { parseScope } from '../src/auth/scopes.js';

const USAGE = `usage: npm run -s token -- --scope "<SMART scopes>" [--fhir-user Practitioner/123] [--patient 456]
                      [--purpose BTG] [--sub <subject>] [--expires 12h]`;

// SMART App Launch's other scopes (scopes-and-launch-context.html): accepted, they grant no access by themselves.
const OTHER_SMART_SCOPES = /^(openid|fhirUser|profile|launch|launch\/(patient|encounter)|offline_access|online_access)$/;

function fail(message: string, code: number): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  if (process.env.CARNET_AUTH_JWKS) {
    fail('CARNET_AUTH_JWKS is set, so the server trusts that key set and not the local issuer; get a token from your identity provider instead', 1);
  }

  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'fhir-user': { type: 'string' },
        scope: { type: 'string' },
        patient: { type: 'string' },
        purpose: { type: 'string' },
        sub: { type: 'string' },
        expires: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, 2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.scope) fail(`--scope is required\n${USAGE}`, 2);

  if (values['fhir-user'] !== undefined && !parseFhirUser(values['fhir-user'])) {
    fail('--fhir-user must be a reference such as Practitioner/123', 2);
  }

  if (values.patient !== undefined && !ID_PATTERN.test(values.patient)) fail('--patient must be a Patient id, e.g. 456', 2);

  // A scope carnet would ignore grants nothing: say so now rather than with a 403 later.
  for (const text of values.scope.split(/\s+/).filter(Boolean)) {
    if (!parseScope(text) && !OTHER_SMART_SCOPES.test(text)) {
      fail(`"${text}" is not a SMART scope; resource scopes look like patient/*.rs, user/DocumentReference.cruds, system/*.cruds (v1: patient/*.read)`, 2);
    }
  }

  const issuer = await ensureLocalIssuer(process.env.CARNET_DATA_DIR || './data');
  let token: string;
  try {
    token = await issuer.sign({
      scope: values.scope,
      fhirUser: values['fhir-user'],
      patient: values.patient,
      purpose_of_use: values.purpose,
      sub: values.sub,
      expiresIn: values.expires,
    });
  } catch (err) {
    fail(err instanceof TypeError ? `invalid --expires (e.g. 30m, 12h, 7d): ${err.message}` : (err as Error).message, 2);
  }
  process.stdout.write(`${token}\n`);
}

main().catch((err: unknown) => fail((err as Error).message ?? String(err), 1));
