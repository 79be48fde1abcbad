import { describe, expect, it } from 'vitest';
import type { FhirRequest } from '../interactions/types.js';
import { mayReadDocuments } from './named.js';

const req = (interaction: string, type: string | undefined, query: Record<string, string> = {}) => ({ interaction, type, query }) as unknown as FhirRequest;

describe('the documents a request may read', () => {
  it('gathers the documents shared by message only when a DocumentReference may be read', () => {
    expect(mayReadDocuments(req('read', 'DocumentReference'))).toBe(true);
    expect(mayReadDocuments(req('read', 'Binary'))).toBe(true);
    expect(mayReadDocuments(req('transaction', undefined))).toBe(true);
    expect(mayReadDocuments(req('operation', 'Patient'))).toBe(true);
    expect(mayReadDocuments(req('search-type', 'List', { _include: 'List:item' }))).toBe(true);
    expect(mayReadDocuments(req('search-type', 'Appointment', { actor: 'Practitioner/1' }))).toBe(false);
    expect(mayReadDocuments(req('create', 'Communication'))).toBe(false);
  });
});
