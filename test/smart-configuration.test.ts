import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { describeEngines, startServer, useServer, type TestServer } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'carnet-smart-'));
const jwksFile = join(dir, 'jwks.json');
let idp: Server;
let idpUrl = '';
let discoveryReads = 0;
let metadata: Record<string, unknown> = {};

beforeAll(async () => {
  const { publicKey } = await generateKeyPair('ES256');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }));
  idp = createServer((req, res) => {
    if (req.url !== '/.well-known/openid-configuration') return void res.writeHead(404).end();
    discoveryReads++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata));
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  idpUrl = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
  metadata = {
    issuer: idpUrl,
    authorization_endpoint: `${idpUrl}/authorize`,
    token_endpoint: `${idpUrl}/token`,
    jwks_uri: `${idpUrl}/jwks`,
    grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
    code_challenge_methods_supported: ['S256'],
    response_types_supported: ['code'],
  };
});
afterAll(async () => {
  await new Promise((resolve) => idp?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const external = (extra: Record<string, string>) => ({ CARNET_AUTH_JWKS: jwksFile, CARNET_AUTH_ISSUER: idpUrl, CARNET_AUTH_AUDIENCE: 'carnet', ...extra });
const smart = async (s: TestServer) => {
  const res = await s.request({ method: 'GET', url: '/.well-known/smart-configuration' });
  expect(res.status).toBe(200);
  return res.body;
};

describeEngines('SMART discovery publishes what the authorization server can do, nothing more', (engine) => {
  describe('with the local development issuer', () => {
    let s: TestServer;
    useServer(engine, (server) => (s = server));
    it('advertises no grant and no endpoint, since the issuer has none', async () => {
      const doc = await smart(s);
      expect(doc.grant_types_supported).toEqual([]);
      for (const key of ['authorization_endpoint', 'token_endpoint', 'code_challenge_methods_supported', 'token_endpoint_auth_methods_supported']) expect(doc).not.toHaveProperty(key);
      expect(doc.capabilities).not.toContain('launch-standalone');
      expect(doc.capabilities).toContain('permission-v2');
    });
  });

  it("with CARNET_AUTH_DISCOVERY: the server's endpoints and grants, read once at start", async () => {
    const reads = discoveryReads;
    const s = await startServer(engine, external({ CARNET_AUTH_DISCOVERY: `${idpUrl}/.well-known/openid-configuration` }));
    try {
      const doc = await smart(s);
      await smart(s);
      expect(discoveryReads - reads).toBe(1);
      expect(doc).toMatchObject({
        issuer: idpUrl,
        authorization_endpoint: `${idpUrl}/authorize`,
        token_endpoint: `${idpUrl}/token`,
        jwks_uri: `${idpUrl}/jwks`,
        grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
        code_challenge_methods_supported: ['S256'],
      });
      expect(doc.capabilities).toEqual(expect.arrayContaining(['launch-standalone', 'client-confidential-asymmetric', 'client-confidential-symmetric', 'permission-v2']));
    } finally {
      await s.close();
    }
  });

  it('with the endpoints set by hand: those, and the authorization code grant they allow', async () => {
    const s = await startServer(engine, external({ CARNET_AUTH_AUTHORIZATION_ENDPOINT: 'https://idp.example/authorize', CARNET_AUTH_TOKEN_ENDPOINT: 'https://idp.example/token' }));
    try {
      const doc = await smart(s);
      expect(doc).toMatchObject({ authorization_endpoint: 'https://idp.example/authorize', token_endpoint: 'https://idp.example/token', grant_types_supported: ['authorization_code'] });
      expect(doc.capabilities).toContain('launch-standalone');
    } finally {
      await s.close();
    }
  });

  it('a discovery document naming another issuer stops the start', async () => {
    await expect(startServer(engine, external({ CARNET_AUTH_ISSUER: 'https://someone-else.example', CARNET_AUTH_DISCOVERY: `${idpUrl}/.well-known/openid-configuration` })))
      .rejects.toThrow(/CARNET_AUTH_DISCOVERY: the document names issuer/);
  });
});

describe('authorization server settings', () => {
  it('need CARNET_AUTH_JWKS, and https away from localhost', () => {
    expect(() => loadConfig({ CARNET_AUTH_TOKEN_ENDPOINT: 'https://idp.example/token' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...external({}), CARNET_AUTH_TOKEN_ENDPOINT: 'http://idp.example/token' })).toThrow(/https/);
    expect(loadConfig({ ...external({}), CARNET_AUTH_TOKEN_ENDPOINT: 'http://127.0.0.1:9000/token' }).authTokenEndpoint).toBe('http://127.0.0.1:9000/token');
  });
});
