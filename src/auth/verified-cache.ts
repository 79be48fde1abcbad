import type { Principal } from './principal.js';

/**
 * Tokens already verified, so a client sending the same bearer token on every request pays for one
 * signature check, not one per request. Keyed by the whole token (signature included), so only a
 * byte-identical token hits; an entry lives until the token's exp, at most `maxAgeMs`, and the
 * least recently used entries go first past `size`.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { token: string; principal: Principal; until: number }>();
  private newest: string | undefined;

  constructor(
    private readonly size = 10_000,
    private readonly maxAgeMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): Principal | undefined {
    const hit = this.entries.get(token);
    if (!hit) return undefined;
    if (hit.until <= this.now()) {
      this.entries.delete(token);
      return undefined;
    }
    // Moved to the back (most recently used) under the stored key, not the request's copy of it,
    // and only when it is not there already: the long-lived map then never points at an object of
    // this request, which the next young-generation GC would have to keep (a delete and set on a
    // map of one entry also reallocates its table each time).
    if (hit.token !== this.newest) {
      this.entries.delete(token);
      this.entries.set(hit.token, hit);
      this.newest = hit.token;
    }
    return hit.principal;
  }

  clear(): void {
    this.entries.clear();
    this.newest = undefined;
  }

  set(token: string, principal: Principal, expSeconds: number | undefined): void {
    const until = Math.min(this.now() + this.maxAgeMs, expSeconds !== undefined ? expSeconds * 1000 : 0);
    if (until <= this.now()) return;
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { token, principal, until });
    this.newest = token;
  }
}
