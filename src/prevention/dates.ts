/**
 * Calendar dates as FHIR writes them (YYYY-MM-DD), and ISO 8601 durations of years, months and days
 * (P2M, P11Y6M): the arithmetic of a vaccination calendar, at day precision, free of time zones.
 */

const DURATION = /^P(?=\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$/;
const DATE = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/;

export function isDuration(value: string): boolean {
  return DURATION.test(value);
}

// A calendar has few durations and evaluates them for every patient: parsed once.
const parsed = new Map<string, [number, number, number]>();

function parts(duration: string): [number, number, number] {
  let p = parsed.get(duration);
  if (!p) {
    const m = DURATION.exec(duration);
    if (!m) throw new Error(`"${duration}" is not a duration like P2M or P11Y6M`);
    p = [Number(m[1] ?? 0), Number(m[2] ?? 0), Number(m[3] ?? 0)];
    parsed.set(duration, p);
  }
  return p;
}

const daysIn = (year: number, month0: number): number =>
  month0 === 1 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month0];

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function format(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/**
 * The day a FHIR date or dateTime falls on (a partial date counts from its first day), or undefined.
 * A dateTime keeps its own calendar day: a vaccination on 2026-03-02T23:30+01:00 was on the 2nd.
 */
export function dayOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = DATE.exec(value);
  if (!m) return undefined;
  return `${m[1]}-${m[2] ?? '01'}-${m[3] ?? '01'}`;
}

/**
 * `date` moved by `duration` (backwards with sign -1). Years and months first, the day clamped to the
 * month's last (born on 31 January, one month old on 28 or 29 February), then days.
 */
export function add(date: string, duration: string, sign: 1 | -1 = 1): string {
  const y = Number(date.slice(0, 4));
  const m = Number(date.slice(5, 7));
  const d = Number(date.slice(8, 10));
  const [dy, dm, dd] = parts(duration);
  const months = (y + sign * dy) * 12 + (m - 1) + sign * dm;
  const year = Math.floor(months / 12);
  const month = months - year * 12;
  const day = Math.min(d, daysIn(year, month));
  if (dd === 0) return `${pad(year, 4)}-${pad(month + 1)}-${pad(day)}`;
  return format(new Date(Date.UTC(year, month, day + sign * dd)));
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number);
  return format(new Date(Date.UTC(y, m - 1, d + days)));
}

export const maxDate = (a: string, b: string): string => (a > b ? a : b);
export const minDate = (a: string, b: string): string => (a < b ? a : b);

const PARIS = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit' });

/** The calendar day in France at an instant: the day the calendar is read on. */
export function parisDay(instant: Date): string {
  return PARIS.format(instant);
}

/** A real calendar date YYYY-MM-DD (2026-02-30 is not). */
export function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}
