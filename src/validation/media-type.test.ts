import { describe, expect, it } from 'vitest';
import { isMediaType } from './media-type.js';

describe('media types (RFC 9110)', () => {
  it('takes type/subtype with parameters', () => {
    for (const ok of ['application/pdf', 'text/plain; charset=utf-8', 'text/plain;charset="utf-8"', 'application/fhir+json;fhirVersion=4.0', 'multipart/form-data; boundary="a b\\"c"', 'application/vnd.ms-excel', 'text/plain;', 'image/svg+xml ; a=b ;c=d']) {
      expect(isMediaType(ok), ok).toBe(true);
    }
  });

  it('refuses what is not one', () => {
    for (const bad of ['text/中', 'text', 'text/', '/plain', 'text/plain/x', 'text /plain', 'text/plain; charset', 'text/plain; charset=a b', 'text/plain; ch=é', 'text/plain\r\nX-Injected: 1', 'text/plain; a="unterminated', '']) {
      expect(isMediaType(bad), bad).toBe(false);
    }
  });
});
