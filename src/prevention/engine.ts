import { add, dayOf, maxDate, minDate } from './dates.js';
import { doneEvents, type DoneEvent, type PatientRecord } from './events.js';
import type { Dose, Rule } from './rules.js';

export type ActionStatus = 'due' | 'overdue' | 'upcoming' | 'done';

/** One rule as it applies to a patient on a day. Windows run from `start` to `end` excluded. */
export interface Action {
  rule: Rule;
  status: ActionStatus;
  window: { start: string; end: string };
}

interface Person {
  birth: string;
  today: string;
  /** First day of the rule's population. */
  from: string;
  /** Last day (excluded) of the rule's population. */
  until: string;
  /** Within the next 12 months. */
  horizon: string;
}

/** The windows of a series of doses: each from its age (and the least interval after the previous dose). */
function doses(rule: Rule, list: Dose[], events: DoneEvent[], p: Person): Omit<Action, 'rule'> | undefined {
  let window: { start: string; end: string } | undefined;
  for (let i = 0; i < list.length; i++) {
    const dose = list[i];
    let start = dose.age ? add(p.birth, dose.age) : add(p.birth, rule.population.ageFrom);
    if (dose.after && i > 0 && events[i - 1]) start = maxDate(start, add(events[i - 1].date, dose.after));
    window = { start, end: minDate(add(start, dose.dueFor), p.until) };
    if (i < events.length) continue;
    return timed(window, p);
  }
  return window && { status: 'done', window };
}

/** Again and again: after each time, the next interval; never done, in cycles from the population's first day. */
function recurring(rule: Rule, every: string[], events: DoneEvent[], p: Person): Omit<Action, 'rule'> | undefined {
  const last = events[events.length - 1];
  if (last) {
    const interval = last.interval ?? every[Math.min(events.length - 1, every.length - 1)];
    const next = add(last.date, interval);
    if (p.today < next) return { status: 'done', window: { start: last.date, end: minDate(next, p.until) } };
    const length = every[Math.min(events.length, every.length - 1)];
    return timed({ start: next, end: minDate(add(next, length), p.until) }, p);
  }
  let start = p.from;
  // Cycles of the first interval: the one holding today, so that the window (and the reminder) stays put within it.
  for (let end = add(start, every[0]); end <= p.today; end = add(start, every[0])) start = end;
  return timed({ start, end: minDate(add(start, every[0]), p.until) }, p);
}

/** Each year's season (start and end as MM-DD; an end before the start is in the next year): this one or the next. */
function seasonal(season: { start: string; end: string }, events: DoneEvent[], p: Person): Omit<Action, 'rule'> | undefined {
  const year = Number(p.today.slice(0, 4));
  const windowOf = (y: number) => {
    const start = `${y}-${season.start}`;
    return { start, end: season.end > season.start ? `${y}-${season.end}` : `${y + 1}-${season.end}` };
  };
  const candidates = [windowOf(year - 1), windowOf(year), windowOf(year + 1)];
  // The season in progress or the next one, once the patient is in the population before it ends.
  const window = candidates.find((w) => p.today < w.end && p.from < w.end && w.start < p.until);
  if (!window) return undefined;
  if (events.some((e) => e.date >= window.start && e.date < window.end)) return { status: 'done', window };
  return timed(window, p);
}

/** Due within its window, overdue after it, upcoming when it opens within 12 months; nothing further away. */
function timed(window: { start: string; end: string }, p: Person): Omit<Action, 'rule'> | undefined {
  if (window.start >= p.until || window.start >= window.end) return undefined;
  if (p.today < window.start) return window.start < p.horizon ? { status: 'upcoming', window } : undefined;
  return { status: p.today < window.end ? 'due' : 'overdue', window };
}

/**
 * The action a rule gives a patient on `today` (YYYY-MM-DD), or undefined when it does not apply:
 * the wrong sex, an age outside its population (or not entering it within 12 months), nothing to
 * do within the next 12 months. A pure function of the rule, the record and the day.
 */
export function evaluate(rule: Rule, record: PatientRecord, today: string): Action | undefined {
  const birth = dayOf(record.birthDate);
  if (!birth || birth > today) return undefined;
  const { ageFrom, ageTo, sex } = rule.population;
  if (sex && record.gender !== sex) return undefined;
  const from = add(birth, ageFrom);
  const until = add(birth, ageTo);
  const horizon = add(today, 'P1Y');
  if (today >= until || from >= horizon) return undefined;
  const events = doneEvents(rule, record, rule.countFrom ? add(birth, rule.countFrom) : birth);
  const p: Person = { birth, today, from, until, horizon };
  const s = rule.schedule;
  const found = 'doses' in s ? doses(rule, s.doses, events, p) : 'every' in s ? recurring(rule, s.every, events, p) : seasonal(s.season, events, p);
  return found && { rule, ...found };
}

/** Every action of the rules for a patient on a day, in the rules' order; none for a patient who died. */
export function plan(rules: Rule[], record: PatientRecord, today: string): Action[] {
  if (record.deceased) return [];
  return rules.flatMap((rule) => evaluate(rule, record, today) ?? []);
}
