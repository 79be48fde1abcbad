import { describe, expect, it } from 'vitest';
import { createValidator } from '../validation/validator.js';
import { add, addDays, isCalendarDate, parisDay } from './dates.js';
import { evaluate, plan } from './engine.js';
import type { PatientRecord } from './events.js';
import { buildReminder, isLapsed, reconcile } from './reminder.js';
import { loadRules } from './rules.js';

const rules = loadRules();
const rule = (code: string) => rules.find((r) => r.code === code)!;
const person = (birthDate: string, gender: string, extra: Partial<PatientRecord> = {}): PatientRecord => ({
  birthDate, gender, immunizations: [], observations: [], documents: [], reminders: [], ...extra,
});
const obs = (code: string, date: string) => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, effectiveDateTime: date });
const vax = (code: string, date: string, status = 'completed') => ({ resourceType: 'Immunization', status, vaccineCode: { coding: [{ system: 'https://smt.esante.gouv.fr/terminologie-atc', code }] }, occurrenceDateTime: date });

describe('calendar dates', () => {
  it('adds years, months and days, clamping to the end of a month', () => {
    expect(add('2026-01-31', 'P1M')).toBe('2026-02-28');
    expect(add('2024-02-29', 'P1Y')).toBe('2025-02-28');
    expect(add('2026-04-06', 'P11Y6M')).toBe('2037-10-06');
    expect(add('2026-03-01', 'P1M', -1)).toBe('2026-02-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(isCalendarDate('2026-02-29')).toBe(false);
    // 23:30 UTC on 31 December is already 1 January in Paris.
    expect(parisDay(new Date('2026-12-31T23:30:00Z'))).toBe('2027-01-01');
  });
});

describe('prevention engine', () => {
  it('doses: the next one after each done, from its age or the least interval after the previous', () => {
    const r = rule('hexavalent');
    expect(evaluate(r, person('2026-04-06', 'male'), '2026-06-10')).toMatchObject({ status: 'due', window: { start: '2026-06-06', end: '2026-08-06' } });
    const one = person('2026-04-06', 'male', { immunizations: [vax('J07CA09', '2026-07-20')] });
    // Dose 2 at 4 months, but a month after dose 1 at the earliest.
    expect(evaluate(r, one, '2026-08-10')).toMatchObject({ status: 'upcoming', window: { start: '2026-08-20', end: '2026-10-20' } });
    expect(evaluate(r, one, '2026-08-25')).toMatchObject({ status: 'due', window: { start: '2026-08-20' } });
    // A vaccination not completed does not count.
    expect(evaluate(r, person('2026-04-06', 'male', { immunizations: [vax('J07CA09', '2026-06-07', 'not-done')] }), '2026-06-10')?.status).toBe('due');
    const three = person('2026-04-06', 'male', { immunizations: [vax('J07CA09', '2026-06-07'), vax('J07CA09', '2026-08-07'), vax('J07CA09', '2027-03-07')] });
    expect(evaluate(r, three, '2027-04-01')?.status).toBe('done');
  });

  it('every 2 years: due in cycles from 50 when never done; after a screening, done until 2 years later, then due, then overdue', () => {
    const r = rule('depistage-cancer-colorectal');
    expect(evaluate(r, person('1974-02-01', 'male'), '2026-06-10')).toMatchObject({ status: 'due', window: { start: '2026-02-01', end: '2028-02-01' } });
    const tested = person('1974-02-01', 'male', { observations: [obs('29771-3', '2025-05-01')] });
    expect(evaluate(r, tested, '2026-06-10')).toMatchObject({ status: 'done', window: { start: '2025-05-01', end: '2027-05-01' } });
    expect(evaluate(r, tested, '2027-06-10')).toMatchObject({ status: 'due', window: { start: '2027-05-01', end: '2029-05-01' } });
    expect(evaluate(r, tested, '2029-06-10')?.status).toBe('overdue');
    expect(evaluate(r, person('1977-02-01', 'male'), '2026-06-10')).toMatchObject({ status: 'upcoming', window: { start: '2027-02-01' } });
    expect(evaluate(r, person('1980-02-01', 'male'), '2026-06-10')).toBeUndefined();
    expect(evaluate(r, person('1951-02-01', 'male'), '2026-06-10')).toBeUndefined();
    expect(plan(rules, person('1974-02-01', 'male', { deceased: true }), '2026-06-10')).toEqual([]);
  });

  it('cervical screening: a year after the first cytology, then 3 years; from 30 an HPV test every 5 years, 3 years after a cytology', () => {
    const young = rule('depistage-cancer-col-25-29');
    const once = person('2000-01-01', 'female', { observations: [obs('10524-7', '2025-03-01')] });
    expect(evaluate(young, once, '2026-06-10')).toMatchObject({ status: 'due', window: { start: '2026-03-01' } });
    const twice = person('2000-01-01', 'female', { observations: [obs('10524-7', '2025-03-01'), obs('10524-7', '2026-03-01')] });
    expect(evaluate(young, twice, '2026-06-10')).toMatchObject({ status: 'done', window: { end: '2029-03-01' } });
    const hpv = rule('depistage-cancer-col-30-65');
    const cytology = person('1990-01-01', 'female', { observations: [obs('10524-7', '2024-03-01')] });
    expect(evaluate(hpv, cytology, '2026-06-10')).toMatchObject({ status: 'done', window: { end: '2027-03-01' } });
    expect(evaluate(hpv, person('1990-01-01', 'male'), '2026-06-10')).toBeUndefined();
  });

  it('seasons: influenza due in autumn, done once vaccinated that season, upcoming in spring', () => {
    const r = rule('grippe-65-ans');
    expect(evaluate(r, person('1950-01-01', 'female'), '2026-11-02')).toMatchObject({ status: 'due', window: { start: '2026-10-15', end: '2027-02-01' } });
    expect(evaluate(r, person('1950-01-01', 'female', { immunizations: [vax('J07BB02', '2026-10-20')] }), '2026-11-02')?.status).toBe('done');
    expect(evaluate(r, person('1950-01-01', 'female', { immunizations: [vax('J07BB02', '2025-10-20')] }), '2026-11-02')?.status).toBe('due');
    expect(evaluate(r, person('1950-01-01', 'female'), '2026-04-02')).toMatchObject({ status: 'upcoming', window: { start: '2026-10-15' } });
    expect(evaluate(r, person('1970-01-01', 'female'), '2026-11-02')).toBeUndefined();
  });

  it('a reminder of a due action validates as an R4 CommunicationRequest; reconcile completes an active one once done, and never touches a revoked one', () => {
    const record = person('2026-04-06', 'male');
    const actions = plan(rules, record, '2026-06-10');
    const byCode = new Map(rules.map((r) => [r.code, r]));
    const { create } = reconcile(actions, byCode, record, { patientId: 'p1', today: '2026-06-10', authoredOn: '2026-06-10T02:00:00.000Z' });
    expect(create.map((r) => (r.reasonCode as any)[0].coding[0].code).sort()).toEqual(['hexavalent', 'pneumocoque-nourrisson']);
    const validator = createValidator();
    for (const r of create) expect(validator.validate(r).issues.filter((i) => i.severity === 'error')).toEqual([]);

    const hexa = buildReminder(actions.find((a) => a.rule.code === 'hexavalent')!, 'p1', '2026-06-10T02:00:00.000Z');
    const revoked = { ...hexa, id: 'revoked', status: 'revoked' };
    const done = person('2026-04-06', 'male', { immunizations: [vax('J07CA09', '2026-06-12')], reminders: [hexa, revoked] });
    const later = reconcile(plan(rules, done, '2026-06-20'), byCode, done, { patientId: 'p1', today: '2026-06-20', authoredOn: '2026-06-20T02:00:00.000Z' });
    expect(later.complete.map((r) => [r.id, r.status])).toEqual([[hexa.id, 'completed']]);
    expect(later.create.map((r) => r.id)).not.toContain(hexa.id);
  });

  it("a past cycle's reminder never done is closed as lapsed (revoked, statusReason lapsed) once the next cycle's exists; an overdue one with no later window stays active", () => {
    const byCode = new Map(rules.map((r) => [r.code, r]));
    const child = person('2015-03-01', 'female');
    const at = (today: string, record: PatientRecord) => reconcile(plan(rules, record, today), byCode, record, { patientId: 'p1', today, authoredOn: `${today}T02:00:00.000Z` });
    const first = at('2026-06-10', child).create.find((r) => (r.reasonCode as any)[0].coding[0].code === 'mt-dents')!;
    expect(first.occurrencePeriod).toEqual({ start: '2026-03-01', end: '2027-02-28' });
    // The last day of its window: still live.
    expect(at('2027-02-28', { ...child, reminders: [first] }).close).toEqual([]);
    const next = at('2027-03-05', { ...child, reminders: [first] });
    const created = next.create.find((r) => (r.reasonCode as any)[0].coding[0].code === 'mt-dents')!;
    expect(created.occurrencePeriod).toEqual({ start: '2027-03-01', end: '2028-02-29' });
    expect(next.close.map((r) => [r.id, r.status])).toEqual([[first.id, 'revoked']]);
    expect(isLapsed(next.close[0])).toBe(true);
    expect(next.complete).toEqual([]);
    expect(createValidator().validate(next.close[0]).issues.filter((i) => i.severity === 'error')).toEqual([]);
    // Once the next cycle's reminder exists, the same.
    expect(at('2027-03-05', { ...child, reminders: [first, created] }).close.map((r) => r.id)).toEqual([first.id]);
    // One the patient dismissed stays dismissed, not lapsed.
    expect(at('2027-03-05', { ...child, reminders: [{ ...first, status: 'revoked' }] }).close).toEqual([]);

    // An infant's first hexavalent dose, never given: its window passed, it is overdue, and no later window replaces it.
    const infant = person('2026-04-06', 'male');
    const hexa = at('2026-06-10', infant).create.find((r) => (r.reasonCode as any)[0].coding[0].code === 'hexavalent')!;
    const later = at('2026-09-01', { ...infant, reminders: [hexa] });
    expect(later.close).toEqual([]);
    expect(later.create.map((r) => r.id)).not.toContain(hexa.id);
  });
});
