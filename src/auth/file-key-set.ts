import { stat } from 'node:fs/promises';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { fileStamp, parseJwksFile, readJwksFile, type JwksFile } from './jwks.js';

/**
 * The keys of a JWKS file (CARNET_AUTH_JWKS), read again when the file changes, so an issuer's key
 * rotation needs no restart. The file is checked when a token names a key the set does not hold,
 * and at most every `intervalMs` otherwise (so a key removed from the file stops being trusted).
 * A check is a stat; only a changed stat (or one too recent to trust) leads to a read, and only a
 * changed text to a parse, so a flood of tokens with made-up kids costs a stat each (concurrent
 * checks share one), never a reload.
 */
export class FileKeySet {
  private keys: JWTVerifyGetKey;
  private lastCheck: number;
  private pending: Promise<boolean> | undefined;

  constructor(
    jwks: JSONWebKeySet,
    private file: JwksFile,
    private readonly onError: (message: string) => void = () => undefined,
    private readonly intervalMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = createLocalJWKSet(jwks);
    this.lastCheck = now();
  }

  /** For jwtVerify: the key set in use at the time of the call. */
  readonly getKey: JWTVerifyGetKey = (header, token) => this.keys(header, token);

  /** The periodic check is due. */
  due(): boolean {
    return this.now() - this.lastCheck >= this.intervalMs;
  }

  /** Reads the file again if it changed; true when the keys were replaced. */
  refresh(): Promise<boolean> {
    this.pending ??= this.check().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async check(): Promise<boolean> {
    this.lastCheck = this.now();
    let stamp: string;
    try {
      stamp = fileStamp(await stat(this.file.path));
    } catch (err) {
      this.onError(`JWKS file ${this.file.path} cannot be checked (${(err as NodeJS.ErrnoException).code ?? 'error'}): keeping the keys in use`);
      return false;
    }
    if (stamp === this.file.stamp && !this.file.racy) return false;
    let file: JwksFile;
    try {
      file = await readJwksFile(this.file.path);
    } catch (err) {
      this.onError(`${(err as Error).message}: keeping the keys in use`);
      return false;
    }
    const changed = file.text !== this.file.text;
    this.file = file;
    if (!changed) return false;
    try {
      this.keys = createLocalJWKSet(parseJwksFile(file));
      return true;
    } catch (err) {
      // A half-written or broken file leaves the keys in use; it is read again once it changes again.
      this.onError(`${(err as Error).message}: keeping the keys in use`);
      return false;
    }
  }
}
