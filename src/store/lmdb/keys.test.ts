import * as lmdb from 'lmdb';
import { describe, expect, it } from 'vitest';
import { fitsKey, keySize, longValue, utf8Start, KEPT_BYTES, MAX_KEY_BYTES, type Key } from './keys.js';

/** lmdb's own key encoder (exported, not typed). */
const encode = (lmdb as unknown as { keyValueToBuffer: (key: Key) => Uint8Array }).keyValueToBuffer;

describe('key sizes', () => {
  it('are what lmdb encodes', () => {
    const pieces = ['', 'a', '\u0001b', '\u001bx', 'é', '中', '😀', '\ud800', 'Patient', 'x'.repeat(63) + '\u0002', 'y'.repeat(64) + '\u0003', '中'.repeat(300)];
    const keys: Key[] = [];
    for (const a of pieces) for (const b of pieces) keys.push([a, b], ['Observation', 'code', 'sc', a + b, 'id-1'], [a, 7, b]);
    for (const key of keys) expect(keySize(key), JSON.stringify(key)).toBe(encode(key).length);
  });

  it('fit up to LMDB\'s limit exactly', () => {
    const prefix = ['Patient', 'family', 'v'];
    let value = '';
    while (keySize([...prefix, value + 'x', 'id']) <= MAX_KEY_BYTES) value += 'x';
    expect(fitsKey([...prefix, value, 'id'])).toBe(true);
    expect(fitsKey([...prefix, value + 'x', 'id'])).toBe(false);
    expect(fitsKey([...prefix, '中'.repeat(600), 'id'])).toBe(true);
    expect(fitsKey([...prefix, '中'.repeat(700), 'id'])).toBe(false);
  });

  it('cut long values between code points and tell values apart by their hash', () => {
    expect(utf8Start('ab中😀', 4)).toBe('ab');
    expect(utf8Start('ab中😀', 5)).toBe('ab中');
    expect(utf8Start('ab中😀', 9)).toBe('ab中😀');
    const value = '中'.repeat(1000);
    const long = longValue(value);
    expect(long.startsWith(utf8Start(value, KEPT_BYTES))).toBe(true);
    expect(Buffer.byteLength(long)).toBeLessThan(KEPT_BYTES + 50);
    expect(longValue(value + 'x')).not.toBe(long);
  });
});
