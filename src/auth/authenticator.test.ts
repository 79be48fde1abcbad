import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { FhirError } from '../errors.js';
import { createAuthenticator, type Authenticator } from './authenticator.js';
import { loadJwks } from './jwks.js';

const ISSUER = 'https://idp.example/realms/carnet';
const AUDIENCE = 'https://carnet.example/fhir';

let key: CryptoKey;
let otherKey: CryptoKey;
let publicJwk: JWK;
let auth: Authenticator;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  key = pair.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1' };
  auth = createAuthenticator({ jwks: { kind: 'local', jwks: { keys: [publicJwk] } }, issuer: ISSUER, audience: AUDIENCE });
});

function token(
  claims: Record<string, unknown> = {},
  opts: { key?: CryptoKey; kid?: string | null; iss?: string; aud?: string; exp?: string | number | null; alg?: string } = {},
): Promise<string> {
  const jwt = new SignJWT({ scope: 'user/*.rs openid fhirUser', fhirUser: 'Practitioner/123', ...claims })
    .setProtectedHeader(opts.kid === null ? { alg: opts.alg ?? 'ES256' } : { alg: opts.alg ?? 'ES256', kid: opts.kid ?? 'k1' })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setSubject('user-1')
    .setIssuedAt();
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? '5m');
  return jwt.sign(opts.key ?? key);
}

async function refusal(header: string | undefined, a: Authenticator = auth): Promise<FhirError> {
  const err = await a.authenticate(header).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FhirError);
  const fe = err as FhirError;
  if (header) {
    const jwt = header.replace(/^\S+\s+/, '');
    expect(fe.message).not.toContain(jwt);
    for (const part of jwt.split('.').filter((p) => p.length > 8)) expect(fe.message).not.toContain(part);
  }
  return fe;
}

describe('authenticate: accepted tokens', () => {
  it('maps the claims of a valid token', async () => {
    const jwt = await token({
      fhirUser: 'https://carnet.example/fhir/Practitioner/p-1',
      patient: '456',
      purpose_of_use: 'BTG',
      scope: 'launch/patient openid patient/Observation.rs user/*.read',
    });
    const p = await auth.authenticate(`Bearer ${jwt}`);
    expect(p.subject).toBe('user-1');
    expect(p.fhirUser).toEqual({ type: 'Practitioner', id: 'p-1', reference: 'Practitioner/p-1' });
    expect(p.patient).toBe('456');
    expect(p.purposeOfUse).toEqual(['BTG']);
    expect(p.scope).toBe('launch/patient openid patient/Observation.rs user/*.read');
    expect(p.scopes).toEqual([
      { context: 'patient', type: 'Observation', perms: new Set(['r', 's']) },
      { context: 'user', type: '*', perms: new Set(['r', 's']) },
    ]);
  });

  it('accepts a relative fhirUser, an array purpose_of_use and a lower-case scheme', async () => {
    const jwt = await token({ fhirUser: 'RelatedPerson/rp.7', purpose_of_use: ['TREAT', 'BTG'] });
    const p = await auth.authenticate(`bearer ${jwt}`);
    expect(p.fhirUser).toEqual({ type: 'RelatedPerson', id: 'rp.7', reference: 'RelatedPerson/rp.7' });
    expect(p.purposeOfUse).toEqual(['TREAT', 'BTG']);
    expect(p.patient).toBeUndefined();
  });

  it('accepts RS256 and EdDSA keys, and tries each key when several match a token without kid', async () => {
    const rsa = await generateKeyPair('RS256');
    const ed = await generateKeyPair('EdDSA');
    const a = createAuthenticator({
      jwks: { kind: 'local', jwks: { keys: [publicJwk, await exportJWK(rsa.publicKey), await exportJWK(ed.publicKey)] } },
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    expect((await a.authenticate(`Bearer ${await token({}, { key: rsa.privateKey, alg: 'RS256', kid: null })}`)).subject).toBe('user-1');
    expect((await a.authenticate(`Bearer ${await token({}, { key: ed.privateKey, alg: 'EdDSA', kid: null })}`)).subject).toBe('user-1');

    const second = await generateKeyPair('ES256');
    const b = createAuthenticator({
      jwks: { kind: 'local', jwks: { keys: [{ ...publicJwk, kid: undefined }, await exportJWK(second.publicKey)] } },
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    const noKid = await new SignJWT({ scope: '' }).setProtectedHeader({ alg: 'ES256' }).setIssuer(ISSUER).setAudience(AUDIENCE)
      .setSubject('s').setExpirationTime('5m').sign(second.privateKey);
    expect((await b.authenticate(`Bearer ${noKid}`)).subject).toBe('s');
  });

  it('tolerates small clock skew but not more', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(auth.authenticate(`Bearer ${await token({}, { exp: now - 10 })}`)).resolves.toBeDefined();
    expect((await refusal(`Bearer ${await token({}, { exp: now - 120 })}`)).message).toMatch(/expired/);
  });
});

describe('authenticate: refused tokens (401)', () => {
  it('refuses a missing, empty or non-Bearer header', async () => {
    for (const header of [undefined, '', '   ']) {
      const err = await refusal(header);
      expect(err.status).toBe(401);
      expect(err.code).toBe('unauthenticated');
      expect(err.message).toMatch(/missing/i);
    }
    const jwt = await token();
    expect((await refusal(`Basic ${jwt}`)).message).toMatch(/scheme must be Bearer/);
    expect((await refusal('Bearer')).message).toMatch(/missing or malformed/i);
  });

  it('refuses a malformed token', async () => {
    expect((await refusal('Bearer not-a-jwt')).message).toMatch(/malformed/);
    expect((await refusal('Bearer aaaaaaaaaa.bbbbbbbbbb.cccccccccc')).message).toMatch(/malformed/);
  });

  it('refuses an expired token and one without exp', async () => {
    const err = await refusal(`Bearer ${await token({}, { exp: '-1h' })}`);
    expect(err.status).toBe(401);
    expect(err.message).toBe('Access token expired');
    expect((await refusal(`Bearer ${await token({}, { exp: null })}`)).message).toMatch(/missing "exp"/);
  });

  it('refuses a wrong issuer or audience', async () => {
    expect((await refusal(`Bearer ${await token({}, { iss: 'https://evil.example' })}`)).message).toMatch(/issuer/);
    expect((await refusal(`Bearer ${await token({}, { aud: 'https://other.example/fhir' })}`)).message).toMatch(/audience/);
  });

  it('refuses a token signed with another key', async () => {
    const sameKid = await refusal(`Bearer ${await token({}, { key: otherKey })}`);
    expect(sameKid.status).toBe(401);
    expect(sameKid.message).toMatch(/signature is invalid/);
    expect((await refusal(`Bearer ${await token({}, { key: otherKey, kid: 'unknown' })}`)).message).toMatch(/no trusted key/);
  });

  it('refuses alg none and HS256', async () => {
    const enc = (v: object) => base64url.encode(JSON.stringify(v));
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'x', exp: Math.floor(Date.now() / 1000) + 300, scope: 'system/*.cruds' };
    const none = `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
    expect((await refusal(`Bearer ${none}`)).message).toMatch(/algorithm not accepted/);

    // The classic confusion attack: HMAC keyed with the public key's bytes.
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret);
    expect((await refusal(`Bearer ${hs}`)).message).toMatch(/algorithm not accepted/);
  });

  it('refuses a token whose fhirUser or patient claim is not a reference or id', async () => {
    expect((await refusal(`Bearer ${await token({ fhirUser: 'dr-house' })}`)).message).toMatch(/fhirUser/);
    expect((await refusal(`Bearer ${await token({ patient: 'a b' })}`)).message).toMatch(/patient/);
  });
});

describe('key sources', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carnet-jwks-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a JWKS file, keeping only public members', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const path = join(dir, 'jwks.json');
    await writeFile(path, JSON.stringify({ keys: [{ ...(await exportJWK(pair.privateKey)), kid: 'f1' }] }));
    const source = await loadJwks(path);
    expect(source.kind).toBe('local');
    if (source.kind !== 'local') return;
    expect(source.jwks.keys[0]).not.toHaveProperty('d');
    const a = createAuthenticator({ jwks: source, issuer: ISSUER, audience: AUDIENCE });
    const jwt = await token({}, { key: pair.privateKey, kid: 'f1' });
    expect((await a.authenticate(`Bearer ${jwt}`)).subject).toBe('user-1');
  });

  it('reads a JWKS file again: a new kid at once, a removed key at the next periodic check, a broken file not at all', async () => {
    const [one, two, three] = await Promise.all([1, 2, 3].map(() => generateKeyPair('ES256')));
    const jwk = async (pair: typeof one, kid: string) => ({ ...(await exportJWK(pair!.publicKey)), kid });
    const path = join(dir, 'rotating.json');
    await writeFile(path, JSON.stringify({ keys: [await jwk(one, 'r1')] }));
    let clock = 0;
    const problems: string[] = [];
    const a = createAuthenticator({ jwks: await loadJwks(path), issuer: ISSUER, audience: AUDIENCE, now: () => clock, onKeysError: (m) => problems.push(m) });
    const t1 = `Bearer ${await token({}, { key: one!.privateKey, kid: 'r1' })}`;
    const t2 = `Bearer ${await token({}, { key: two!.privateKey, kid: 'r2' })}`;
    expect((await a.authenticate(t1)).subject).toBe('user-1');

    await writeFile(path, JSON.stringify({ keys: [await jwk(two, 'r2')] }));
    expect((await a.authenticate(t2)).subject).toBe('user-1');
    // The unknown kid brought the new file in, which no longer holds r1; the periodic check is not due yet.
    expect((await refusal(t1, a)).message).toMatch(/no trusted key/);

    await writeFile(path, JSON.stringify({ keys: [await jwk(one, 'r1'), await jwk(two, 'r2')] }));
    expect((await a.authenticate(t1)).subject).toBe('user-1');
    await writeFile(path, JSON.stringify({ keys: [await jwk(two, 'r2')] }));
    expect(a.verified(t1)).toBeDefined();
    clock += 30_000;
    expect(a.verified(t1)).toBeUndefined();
    expect((await refusal(t1, a)).message).toMatch(/no trusted key/);

    await writeFile(path, '{"keys": [');
    const t3 = `Bearer ${await token({}, { key: three!.privateKey, kid: 'r3' })}`;
    expect((await refusal(t3, a)).message).toMatch(/no trusted key/);
    expect(problems).toEqual([expect.stringMatching(/is not JSON: keeping the keys in use/)]);
    expect((await a.authenticate(t2)).subject).toBe('user-1');
  });

  it('refuses symmetric keys, non-JWKS files and plain http URLs', async () => {
    const path = join(dir, 'oct.json');
    await writeFile(path, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
    await expect(loadJwks(path)).rejects.toThrow(/symmetric/);
    await writeFile(path, '{"kty":"EC"}');
    await expect(loadJwks(path)).rejects.toThrow(/not a JSON Web Key Set/);
    await expect(loadJwks('http://idp.example/jwks')).rejects.toThrow(/https/);
    expect(await loadJwks('https://idp.example/jwks')).toEqual({ kind: 'remote', url: 'https://idp.example/jwks' });
  });

  it('answers 503, not 401, when remote keys cannot be fetched', async () => {
    const a = createAuthenticator({ jwks: { kind: 'remote', url: 'http://127.0.0.1:9/jwks' }, issuer: ISSUER, audience: AUDIENCE });
    const err = await refusal(`Bearer ${await token()}`, a);
    expect(err.status).toBe(503);
  });
});
