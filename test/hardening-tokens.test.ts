import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { describeEngines, startServer, type TestServer } from './harness.js';

const ISSUER = 'https://idp.example';
const AUDIENCE = 'carnet';
const APP_ORIGIN = 'https://app.example';

interface Signing {
  key: CryptoKey;
  kid: string;
}

function sign(by: Signing, opts: { typ?: string; claims?: Record<string, unknown>; iat?: number } = {}): Promise<string> {
  const header: Record<string, string> = { alg: 'ES256', kid: by.kid };
  if (opts.typ !== undefined) header.typ = opts.typ;
  return new SignJWT({ scope: 'system/*.cruds', ...opts.claims })
    .setProtectedHeader(header as { alg: string })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('lab-system')
    .setIssuedAt(opts.iat)
    .setExpirationTime('10m')
    .sign(by.key);
}

async function newKey(kid: string): Promise<{ signing: Signing; jwk: JWK }> {
  const pair = await generateKeyPair('ES256');
  return { signing: { key: pair.privateKey, kid }, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

describeEngines('hardening: access tokens, security headers, CORS', (engine) => {
  let s: TestServer;
  let dir: string;
  let jwksPath: string;
  let k1: { signing: Signing; jwk: JWK };
  let system: string;
  let patientId: string;
  beforeAll(async () => {
    k1 = await newKey('k1');
    dir = mkdtempSync(join(tmpdir(), 'carnet-hardening-'));
    jwksPath = join(dir, 'jwks.json');
    writeFileSync(jwksPath, JSON.stringify({ keys: [k1.jwk] }));
    s = await startServer(engine, {
      CARNET_AUTH_JWKS: jwksPath,
      CARNET_AUTH_ISSUER: ISSUER,
      CARNET_AUTH_AUDIENCE: AUDIENCE,
      CARNET_CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:3000`,
      CARNET_MAX_CONNECTIONS: '123',
      CARNET_REQUEST_TIMEOUT: '45',
    });
    system = await sign(k1.signing);
    const created = await s.request({ method: 'POST', url: '/fhir/Patient', token: system, body: { resourceType: 'Patient', name: [{ family: 'Durand' }] } });
    expect(created.status).toBe(201);
    patientId = created.body.id;
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const read = (token: string, headers: Record<string, string> = {}) => s.request({ method: 'GET', url: `/fhir/Patient/${patientId}`, token, headers });

  it('accepts access tokens: typ absent, JWT or at+jwt (any case, application/ prefix), token_use access', async () => {
    for (const typ of [undefined, 'JWT', 'jwt', 'at+jwt', 'AT+JWT', 'application/at+jwt', 'application/jwt']) {
      expect((await read(await sign(k1.signing, { typ }))).status, `typ ${typ}`).toBe(200);
    }
    expect((await read(await sign(k1.signing, { claims: { token_use: 'access' } }))).status).toBe(200);
  });

  it('refuses refresh and ID tokens signed by the trusted issuer: 401, OperationOutcome says it is not an access token', async () => {
    const tokens = [
      ...['refresh+jwt', 'id_token+jwt', 'application/id_token+jwt', 'logout+jwt', 'JOSE'].map((typ) => sign(k1.signing, { typ })),
      ...['refresh', 'id', ''].map((use) => sign(k1.signing, { claims: { token_use: use } })),
    ];
    for (const token of await Promise.all(tokens)) {
      const res = await read(token);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toContain('invalid_token');
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].diagnostics).toMatch(/not an access token/);
    }
  });

  it('refuses a token issued (iat) further in the future than the 30 s clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const future = await read(await sign(k1.signing, { iat: now + 600 }));
    expect(future.status).toBe(401);
    expect(future.body.issue[0].diagnostics).toMatch(/issued in the future/);
    expect((await read(await sign(k1.signing, { iat: now + 5 }))).status).toBe(200);
  });

  it('reloads the JWKS file when a token names a key written to it while the server runs', async () => {
    const k2 = await newKey('k2');
    const token = await sign(k2.signing);
    const before = await read(token);
    expect(before.status).toBe(401);
    expect(before.body.issue[0].diagnostics).toMatch(/no trusted key/);
    writeFileSync(jwksPath, JSON.stringify({ keys: [k1.jwk, k2.jwk] }));
    expect((await read(token)).status).toBe(200);
    expect((await read(system)).status).toBe(200);
  });

  it('marks health data no-store and nosniff, answers and refusals alike; metadata stays cacheable', async () => {
    const answers = [
      await read(system),
      await s.request({ method: 'GET', url: '/fhir/Patient?family=Durand', token: system }),
      await s.request({ method: 'POST', url: '/fhir/Observation', token: system, body: { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: `Patient/${patientId}` } } }),
      await s.request({ method: 'GET', url: '/fhir/Patient/nobody', token: system }),
      await s.request({ method: 'GET', url: `/fhir/Patient/${patientId}` }),
      await s.request({ method: 'GET', url: '/ready' }),
    ];
    for (const res of answers) {
      expect(res.headers['cache-control'], `status ${res.status}`).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(answers.map((a) => a.status)).toEqual([200, 200, 201, 404, 401, 200]);
    for (const url of ['/fhir/metadata', '/.well-known/smart-configuration']) {
      const res = await s.request({ method: 'GET', url });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBeUndefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('serves raw Binary content no-store, nosniff and sandboxed', async () => {
    const created = await s.app.http.inject({ method: 'POST', url: '/fhir/Binary', payload: Buffer.from('compte rendu'), headers: { authorization: `Bearer ${system}`, 'content-type': 'text/plain' } });
    expect(created.statusCode).toBe(201);
    const res = await s.app.http.inject({ method: 'GET', url: `/fhir/Binary/${created.json().id}`, headers: { authorization: `Bearer ${system}`, accept: 'text/plain' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('compte rendu');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe('sandbox');
  });

  it('lets a browser app on an allowed origin call the API and read the FHIR headers, without credentials mode', async () => {
    const created = await s.request({ method: 'POST', url: '/fhir/Patient', token: system, body: { resourceType: 'Patient' }, headers: { origin: APP_ORIGIN } });
    expect(created.status).toBe(201);
    expect(created.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    const exposed = String(created.headers['access-control-expose-headers']).split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['Location', 'ETag', 'Content-Location', 'X-Progress', 'X-Request-Id']));
    expect(created.headers.vary).toContain('Origin');
    expect(created.headers['access-control-allow-credentials']).toBeUndefined();
    // The app can read a refusal too.
    const refused = await s.request({ method: 'GET', url: `/fhir/Patient/${patientId}`, headers: { origin: 'http://localhost:3000' } });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe('http://localhost:3000');
  });

  it('says in the CapabilityStatement that CORS is on', async () => {
    expect((await s.request({ method: 'GET', url: '/fhir/metadata' })).body.rest[0].security.cors).toBe(true);
  });

  it('answers a preflight from an allowed origin without a token', async () => {
    const res = await s.request({
      method: 'OPTIONS',
      url: `/fhir/Patient/${patientId}`,
      headers: { origin: APP_ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type, if-match' },
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    expect(res.headers['access-control-allow-methods']).toContain('PUT');
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
    for (const h of ['authorization', 'content-type', 'if-match', 'if-none-exist', 'if-none-match', 'if-modified-since', 'prefer', 'accept', 'x-security-context']) {
      expect(allowed).toContain(h);
    }
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('gives no CORS header to an origin not in the list', async () => {
    for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example']) {
      const res = await read(system, { origin });
      expect(res.status).toBe(200);
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
      const preflight = await s.request({ method: 'OPTIONS', url: '/fhir/Patient', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(preflight.status).not.toBe(204);
      expect(Object.keys(preflight.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });

  it('applies CARNET_MAX_CONNECTIONS and CARNET_REQUEST_TIMEOUT to the HTTP server', () => {
    expect(s.app.http.server.maxConnections).toBe(123);
    expect(s.app.http.server.requestTimeout).toBe(45_000);
    // Node enforces the request timeout only while the headers timeout is not longer.
    expect(s.app.http.server.headersTimeout).toBe(45_000);
  });
});

describe('hardening: defaults and configuration', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer('lmdb');
  });
  afterAll(async () => s?.close());

  it('gives no CORS header by default, caps connections at 10000 and requests at 300 s', async () => {
    const token = await s.token({ scope: 'system/*.cruds' });
    const res = await s.request({ method: 'GET', url: '/fhir/Patient', token, headers: { origin: APP_ORIGIN } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    expect((await s.request({ method: 'GET', url: '/fhir/metadata' })).body.rest[0].security.cors).toBe(false);
    expect(s.app.http.server.maxConnections).toBe(10_000);
    expect(s.app.http.server.requestTimeout).toBe(300_000);
  });

  it('closes a connection beyond CARNET_MAX_CONNECTIONS on arrival, serving those within', async () => {
    const capped = await startServer('lmdb', { CARNET_MAX_CONNECTIONS: '1' });
    try {
      await capped.app.http.listen({ port: 0, host: '127.0.0.1' });
      const { port } = capped.app.http.server.address() as AddressInfo;
      const ask = (socket: Socket) =>
        new Promise<string>((resolve) => {
          let data = '';
          socket.on('data', (d) => {
            data += d;
            if (data.includes('\r\n\r\n')) resolve(data);
          });
          socket.on('close', () => resolve(data));
          socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        });
      const first = connect(port, '127.0.0.1');
      expect(await ask(first)).toMatch(/^HTTP\/1\.1 200/);
      // The first connection is kept alive: a second one is one too many.
      const second = connect(port, '127.0.0.1');
      second.on('error', () => undefined);
      expect(await ask(second)).toBe('');
      expect(second.destroyed).toBe(true);
      first.destroy();
    } finally {
      await capped.close();
    }
  });

  it('with CARNET_CORS_ORIGINS=*, lets any origin call, still without credentials mode', async () => {
    const open = await startServer('lmdb', { CARNET_CORS_ORIGINS: '*' });
    try {
      const token = await open.token({ scope: 'system/*.cruds' });
      const res = await open.request({ method: 'GET', url: '/fhir/Patient', token, headers: { origin: 'https://any.example' } });
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      const preflight = await open.request({ method: 'OPTIONS', url: '/fhir/Patient', headers: { origin: 'https://other.example', 'access-control-request-method': 'POST' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await open.close();
    }
  });

  it('refuses at start-up a CORS origin that is not an origin, naming the variable', () => {
    for (const value of ['https://app.example/', 'https://app.example/path', 'app.example', 'ftp://app.example', 'https://App.example', 'https://a.example,,https://b.example', 'https://a.example,*']) {
      let err: unknown;
      try {
        loadConfig({ CARNET_CORS_ORIGINS: value });
      } catch (e) {
        err = e;
      }
      expect(err, value).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe('CARNET_CORS_ORIGINS');
    }
    expect(loadConfig({ CARNET_CORS_ORIGINS: 'https://a.example, http://localhost:8080' }).corsOrigins).toEqual(['https://a.example', 'http://localhost:8080']);
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(() => loadConfig({ CARNET_MAX_CONNECTIONS: '0' })).toThrow(/CARNET_MAX_CONNECTIONS/);
    expect(() => loadConfig({ CARNET_REQUEST_TIMEOUT: 'soon' })).toThrow(/CARNET_REQUEST_TIMEOUT/);
  });
});
