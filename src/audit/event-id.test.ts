import { describe, expect, it } from 'vitest';
import { eventId } from './event-id.js';

describe('AuditEvent ids', () => {
  it('follow the order they were made in, within a millisecond and across, and are valid FHIR ids', () => {
    const t = Date.parse('2026-12-07T10:00:00Z');
    const ids = [eventId(t), eventId(t), eventId(t + 1), eventId(t + 1000), eventId(Date.parse('2099-01-01T00:00:00Z'))];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
  });

  it('stay unique and in order when the clock goes back', () => {
    const t = Date.parse('2100-01-01T00:00:00Z');
    const later = eventId(t);
    const back = eventId(t - 5000);
    expect(back > later).toBe(true);
  });
});
