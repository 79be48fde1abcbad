import { readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { JSONWebKeySet, JWK } from 'jose';

/** Where the keys that sign access tokens come from. */
export type JWKSource = { kind: 'local'; jwks: JSONWebKeySet; file?: JwksFile } | { kind: 'remote'; url: string };

/** The file a local key set was read from: its text, and what its stat said just before the read. */
export interface JwksFile {
  path: string;
  text: string;
  stamp: string;
  /**
   * Changed too recently for the stamp to be trusted: file times tick coarsely (milliseconds on
   * Linux), so a rewrite of the same size within one tick keeps the stamp. The text decides then.
   */
  racy: boolean;
}

/** Changes whenever the file is rewritten or replaced (a rename gives a new inode), bar `racy`. */
export function fileStamp(st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

const RACY_MS = 2000;

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

/**
 * Reads a JWKS file. The stat is taken before the read: a change made meanwhile gives another
 * stamp (or a racy one), so the next check does not miss it.
 */
export async function readJwksFile(path: string): Promise<JwksFile> {
  try {
    const st = await stat(path);
    const text = await readFile(path, 'utf8');
    return { path, text, stamp: fileStamp(st), racy: st.mtimeMs >= Date.now() - RACY_MS };
  } catch (err) {
    throw new Error(`Cannot read JWKS file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function parseJwksFile(file: JwksFile): JSONWebKeySet {
  let json: unknown;
  try {
    json = JSON.parse(file.text);
  } catch {
    throw new Error(`JWKS file ${file.path} is not JSON`);
  }
  return publicJwks(json, `JWKS file ${file.path}`);
}

/** A JWKS file path, or an https URL fetched (and cached) by jose when tokens are verified. */
export async function loadJwks(pathOrUrl: string): Promise<JWKSource> {
  if (/^https?:\/\//i.test(pathOrUrl)) return { kind: 'remote', url: checkJwksUrl(pathOrUrl).href };
  const file = await readJwksFile(pathOrUrl);
  return { kind: 'local', jwks: parseJwksFile(file), file };
}
