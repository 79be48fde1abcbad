import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { createAuthenticator } from './authenticator.js';
import { ensureLocalIssuer, LOCAL_AUDIENCE, LOCAL_ISSUER } from './local-issuer.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carnet-issuer-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local issuer', () => {
  it('creates its key once, private to the owner, and keeps it across loads', async () => {
    const dataDir = join(dir, 'data');
    const first = await ensureLocalIssuer(dataDir);
    expect(first.issuer).toBe(LOCAL_ISSUER);
    expect(first.audience).toBe(LOCAL_AUDIENCE);
    expect(first.jwks.keys).toHaveLength(1);
    expect(first.jwks.keys[0]).not.toHaveProperty('d');
    const path = join(dataDir, 'local-issuer.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const saved = await readFile(path, 'utf8');

    const jwt = await first.sign({ fhirUser: 'Practitioner/123', scope: 'user/*.cruds' });
    const reloaded = await ensureLocalIssuer(dataDir);
    expect(reloaded.jwks).toEqual(first.jwks);
    expect(await readFile(path, 'utf8')).toBe(saved);

    const auth = createAuthenticator({ jwks: { kind: 'local', jwks: reloaded.jwks }, issuer: reloaded.issuer, audience: reloaded.audience });
    const p = await auth.authenticate(`Bearer ${jwt}`);
    expect(p.subject).toBe('Practitioner/123');
    expect(p.fhirUser?.reference).toBe('Practitioner/123');
    expect(p.scopes).toHaveLength(1);
    const second = await reloaded.sign({ scope: 'patient/*.rs', patient: '456', purpose_of_use: 'BTG', sub: 'alice' });
    expect(await auth.authenticate(`Bearer ${second}`)).toMatchObject({ subject: 'alice', patient: '456', purposeOfUse: ['BTG'] });
  });

  it('gives every concurrent first caller the same key', async () => {
    const issuers = await Promise.all([1, 2, 3, 4].map(() => ensureLocalIssuer(dir)));
    for (const i of issuers) expect(i.jwks).toEqual(issuers[0]!.jwks);
  });

  it('signs tokens that expire, 12 hours by default', async () => {
    const issuer = await ensureLocalIssuer(dir);
    const claims = decodeJwt(await issuer.sign({ scope: 'user/*.rs' }));
    expect(claims.exp! - claims.iat!).toBe(12 * 3600);
    const short = decodeJwt(await issuer.sign({ scope: 'user/*.rs', expiresIn: '1h' }));
    expect(short.exp! - short.iat!).toBe(3600);
  });
});
