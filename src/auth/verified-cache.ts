import type { Principal } from './principal.js';

/**
 * Tokens already verified, so a client sending the same bearer token on every request pays for one
 * signature check, not one per request. Keyed by the whole token (signature included), so only a
 * byte-identical token hits; an entry lives until the token's exp, at most `maxAgeMs`, and the
 * least recently used entries go first past `size`.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly size = 10_000,
    private readonly maxAgeMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): Principal | undefined {
    const hit = this.entries.get(token);
    if (!hit) return undefined;
    this.entries.delete(token);
    if (hit.until <= this.now()) return undefined;
    this.entries.set(token, hit);
    return hit.principal;
  }

  set(token: string, principal: Principal, expSeconds: number | undefined): void {
    const until = Math.min(this.now() + this.maxAgeMs, expSeconds !== undefined ? expSeconds * 1000 : 0);
    if (until <= this.now()) return;
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { principal, until });
  }
}
