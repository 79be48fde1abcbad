import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from './authenticator.js';
import { ensureLocalIssuer } from './local-issuer.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carnet-token-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function token(args: string[], env: Record<string, string | undefined>) {
  const { CARNET_AUTH_JWKS: _ignored, ...base } = process.env;
  return run('npx', ['tsx', 'scripts/token.ts', ...args], { cwd: root, env: { ...base, ...env } });
}

describe('scripts/token.ts', () => {
  it('prints a token alone on stdout that the authenticator accepts', async () => {
    const { stdout } = await token(
      ['--fhir-user', 'Practitioner/123', '--scope', 'user/*.cruds', '--patient', '456', '--purpose', 'BTG', '--expires', '1h'],
      { CARNET_DATA_DIR: dir },
    );
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);

    const issuer = await ensureLocalIssuer(dir);
    const auth = createAuthenticator({ jwks: { kind: 'local', jwks: issuer.jwks }, issuer: issuer.issuer, audience: issuer.audience });
    const p = await auth.authenticate(`Bearer ${stdout.trim()}`);
    expect(p.fhirUser).toEqual({ type: 'Practitioner', id: '123', reference: 'Practitioner/123' });
    expect(p.patient).toBe('456');
    expect(p.purposeOfUse).toEqual(['BTG']);
    expect(p.scope).toBe('user/*.cruds');
  });

  it('refuses to run when CARNET_AUTH_JWKS is set', async () => {
    const err = await token(['--scope', 'user/*.rs'], { CARNET_DATA_DIR: dir, CARNET_AUTH_JWKS: 'https://idp.example/jwks' }).then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stdout).toBe('');
    expect(err?.stderr).toMatch(/local issuer/);
  });

  it('refuses what is not a SMART scope, and keeps the scopes SMART defines beside resource scopes', async () => {
    for (const scope of ['everything', 'patient/*.rs everything', 'patient/*.rr', 'admin']) {
      const err = await token(['--scope', scope], { CARNET_DATA_DIR: dir }).then(() => undefined, (e: { code: number; stdout: string; stderr: string }) => e);
      expect(err?.code, scope).toBe(2);
      expect(err?.stdout).toBe('');
      expect(err?.stderr).toMatch(/is not a SMART scope/);
    }
    const { stdout } = await token(['--scope', 'openid fhirUser launch/patient patient/*.rs'], { CARNET_DATA_DIR: dir });
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });
});
