import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JSONWebKeySet, type JWK } from 'jose';

/**
 * A token issuer for local development only: its private key sits in the data directory.
 * Production verifies tokens from a real identity provider (CARNET_AUTH_JWKS).
 */
export const LOCAL_ISSUER = 'urn:carnet:local-issuer';
export const LOCAL_AUDIENCE = 'urn:carnet:local';
export const LOCAL_ISSUER_FILE = 'local-issuer.json';
const ALG = 'ES256';

export interface LocalTokenClaims {
  fhirUser?: string;
  scope: string;
  patient?: string;
  purpose_of_use?: string;
  /** Defaults to fhirUser, else 'local-developer'. */
  sub?: string;
  /** jose time span: '12h' (default), '30m', '7d'... */
  expiresIn?: string;
}

export interface LocalIssuer {
  jwks: JSONWebKeySet;
  issuer: string;
  audience: string;
  sign(claims: LocalTokenClaims): Promise<string>;
}

interface IssuerFile {
  issuer: string;
  audience: string;
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

async function readIssuerFile(path: string): Promise<IssuerFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let file: Partial<IssuerFile> | null;
  try {
    file = JSON.parse(text) as Partial<IssuerFile> | null;
  } catch {
    file = null;
  }
  if (!file?.privateJwk?.d || !file.publicJwk || !file.kid || !file.issuer || !file.audience) {
    throw new Error(`${path} is not a carnet local issuer file; delete it to generate a new key`);
  }
  return file as IssuerFile;
}

async function createIssuerFile(path: string): Promise<IssuerFile> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const file: IssuerFile = {
    issuer: LOCAL_ISSUER,
    audience: LOCAL_AUDIENCE,
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALG, use: 'sig' },
    publicJwk: { ...publicJwk, kid, alg: ALG, use: 'sig' },
  };
  // Written whole under a temporary name, then linked into place: link fails if another process
  // got there first, and nobody ever reads a half-written key.
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, path);
    return file;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readIssuerFile(path);
    if (!winner) throw err;
    return winner;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Loads `<dataDir>/local-issuer.json`, creating it (mode 0600) with a new ES256 key on first use. */
export async function ensureLocalIssuer(dataDir: string): Promise<LocalIssuer> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, LOCAL_ISSUER_FILE);
  const file = (await readIssuerFile(path)) ?? (await createIssuerFile(path));
  const privateKey = await importJWK(file.privateJwk, ALG);

  return {
    jwks: { keys: [file.publicJwk] },
    issuer: file.issuer,
    audience: file.audience,
    async sign(claims) {
      const payload: Record<string, unknown> = { scope: claims.scope };
      if (claims.fhirUser !== undefined) payload.fhirUser = claims.fhirUser;
      if (claims.patient !== undefined) payload.patient = claims.patient;
      if (claims.purpose_of_use !== undefined) payload.purpose_of_use = claims.purpose_of_use;
      return new SignJWT(payload)
        .setProtectedHeader({ alg: ALG, kid: file.kid, typ: 'JWT' })
        .setIssuer(file.issuer)
        .setAudience(file.audience)
        .setSubject(claims.sub ?? claims.fhirUser ?? 'local-developer')
        .setIssuedAt()
        .setJti(randomUUID())
        .setExpirationTime(claims.expiresIn ?? '12h')
        .sign(privateKey);
    },
  };
}
