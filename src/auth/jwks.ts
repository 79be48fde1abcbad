import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet, JWK } from 'jose';

/** Where the keys that sign access tokens come from. */
export type JWKSource = { kind: 'local'; jwks: JSONWebKeySet } | { kind: 'remote'; url: string };

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Throws unless `url` may serve signing keys: https, or http on a loopback address (a local IdP). */
export function checkJwksUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`JWKS URL is not a URL: ${url}`);
  }
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname))) return parsed;
  throw new Error(`JWKS URL must use https (http only on localhost): ${url}`);
}

/**
 * Keeps the public part of each key. Symmetric keys are refused: a shared secret would let anyone
 * holding it mint tokens, and carnet accepts only asymmetric signatures.
 */
export function publicJwks(value: unknown, origin: string): JSONWebKeySet {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${origin}: not a JSON Web Key Set (no "keys" array)`);
  return {
    keys: keys.map((key: unknown, i) => {
      if (typeof key !== 'object' || key === null || typeof (key as JWK).kty !== 'string') {
        throw new Error(`${origin}: key ${i} is not a JWK`);
      }
      if ((key as JWK).kty === 'oct') throw new Error(`${origin}: key ${i} is symmetric (kty "oct"); only asymmetric keys are accepted`);
      const pub: Record<string, unknown> = { ...key };
      for (const member of PRIVATE_MEMBERS) delete pub[member];
      return pub as JWK;
    }),
  };
}

/** A JWKS file path, or an https URL fetched (and cached) by jose when tokens are verified. */
export async function loadJwks(pathOrUrl: string): Promise<JWKSource> {
  if (/^https?:\/\//i.test(pathOrUrl)) return { kind: 'remote', url: checkJwksUrl(pathOrUrl).href };
  let text: string;
  try {
    text = await readFile(pathOrUrl, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read JWKS file ${pathOrUrl}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`JWKS file ${pathOrUrl} is not JSON`);
  }
  return { kind: 'local', jwks: publicJwks(json, `JWKS file ${pathOrUrl}`) };
}
