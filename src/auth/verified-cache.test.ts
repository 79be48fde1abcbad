import { describe, expect, it } from 'vitest';
import type { Principal } from './principal.js';
import { VerifiedTokenCache } from './verified-cache.js';

const principal = (subject: string): Principal => ({ subject, scopes: [], scope: '' });

describe('VerifiedTokenCache', () => {
  it('forgets a token at its expiry, and never keeps one past the maximum age', () => {
    let now = 1_000_000;
    const cache = new VerifiedTokenCache(10, 60_000, () => now);
    cache.set('a', principal('a'), (now + 30_000) / 1000);
    cache.set('b', principal('b'), (now + 3_600_000) / 1000);
    expect(cache.get('a')?.subject).toBe('a');
    now += 31_000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')?.subject).toBe('b');
    now += 30_000;
    expect(cache.get('b')).toBeUndefined();
  });

  it('keeps no token without exp, and drops the least recently used past its size', () => {
    const cache = new VerifiedTokenCache(2, 60_000, () => 0);
    cache.set('none', principal('none'), undefined);
    expect(cache.get('none')).toBeUndefined();
    cache.set('x', principal('x'), 100);
    cache.set('y', principal('y'), 100);
    cache.get('x');
    cache.set('z', principal('z'), 100);
    expect(cache.get('y')).toBeUndefined();
    expect(cache.get('x')?.subject).toBe('x');
    expect(cache.get('z')?.subject).toBe('z');
  });
});
