// Dates and times in plain English, in the order and clock of the site's
// locale (a synced clinic setting, given by `setLocale` when the app state
// arrives; never the browser's or the operating system's). Site times
// (`*_local`) are naive wall-clock strings "YYYY-MM-DDTHH:MM:SS": they are
// handled here as UTC Dates so the browser's own time zone never shifts them.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number) => String(n).padStart(2, '0');

let siteLocale = 'en-GB';

/** The site's locale, which every function here without a `locale` argument writes in. */
export function setLocale(locale: string | null | undefined) {
  siteLocale = locale && locale.trim() ? locale : 'en-GB';
}

export function currentLocale(): string {
  return siteLocale;
}

function regionOf(locale: string): { lang: string; region: string } {
  const [lang, ...rest] = locale.split(/[-_]/);
  return { lang: lang.toLowerCase(), region: rest.find((p) => p.length === 2)?.toUpperCase() ?? '' };
}

/** Whether people of `locale` read a 12-hour clock (en-US): "9:30 AM". */
export function twelveHour(locale = siteLocale): boolean {
  const { lang, region } = regionOf(locale);
  return lang === 'en' && (region === 'US' || region === 'PH');
}

/** "2025-11-23T09:30:00" or "2025-11-23" -> Date whose UTC fields are that wall clock. */
export function naiveToDate(s: string): Date {
  const t = s.length <= 10 ? `${s}T00:00:00` : s.length === 16 ? `${s}:00` : s.slice(0, 19);
  return new Date(`${t}Z`);
}

/** Inverse of naiveToDate: "YYYY-MM-DDTHH:MM:SS". */
export function dateToNaive(d: Date): string {
  return d.toISOString().slice(0, 19);
}

export function dateOnly(s: string): string {
  return s.slice(0, 10);
}

export function addMinutes(naive: string, minutes: number): string {
  return dateToNaive(new Date(naiveToDate(naive).getTime() + minutes * 60_000));
}

export function addDays(date: string, days: number): string {
  const d = naiveToDate(date);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Monday of the week containing `date`. */
export function weekStart(date: string): string {
  const dow = naiveToDate(date).getUTCDay(); // 0 = Sunday
  return addDays(date, dow === 0 ? -6 : 1 - dow);
}

/** The browser's calendar date, used only until the site's own "today" is known. */
export function browserToday(now = new Date()): string {
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** "YYYY-MM-DD" naming a real day. */
export function isRealDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = naiveToDate(s);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** "Mon" */
export function weekdayOf(date: string): string {
  return DAYS[naiveToDate(date).getUTCDay()];
}

/** "12 Mar 1985" in the site's locale ("Mar 12, 1985" in en-US, "12.03.1985" in de). */
export function formatDate(date: string, locale = siteLocale): string {
  return formatDateIn(date, locale);
}

/** "Mon 23 Nov" ("Mon Nov 23" in en-US, "Mon 23.11." in de, "Mon 23/11" in fr). */
export function formatDay(date: string, locale = siteLocale): string {
  const d = naiveToDate(date);
  const day = d.getUTCDate();
  const month = d.getUTCMonth();
  const wd = DAYS[d.getUTCDay()];
  const { lang, region } = regionOf(locale);
  if (lang === 'en') return region === 'US' ? `${wd} ${MONTHS[month]} ${day}` : `${wd} ${day} ${MONTHS[month]}`;
  const order = dateOrder(locale);
  if (order === 'ymd') return `${wd} ${pad(month + 1)}-${pad(day)}`;
  return DOT_LANGS.includes(lang) ? `${wd} ${pad(day)}.${pad(month + 1)}.` : `${wd} ${pad(day)}/${pad(month + 1)}`;
}

/** "09:30" ("9:30 AM" where the site reads a 12-hour clock). */
export function formatTime(naive: string, locale = siteLocale): string {
  const d = naiveToDate(naive);
  const h = d.getUTCHours();
  const m = pad(d.getUTCMinutes());
  if (twelveHour(locale)) return `${h % 12 === 0 ? 12 : h % 12}:${m} ${h < 12 ? 'AM' : 'PM'}`;
  return `${pad(h)}:${m}`;
}

/** What a time typed in the site's locale looks like: "HH:MM" or "h:mm AM". */
export function timePattern(locale = siteLocale): string {
  return twelveHour(locale) ? 'h:mm AM/PM' : 'HH:MM (24-hour)';
}

/**
 * A time of day as a person types it, as "HH:MM" (null when it names no
 * time): "9:30", "09.30", "0930", "930", "17:45", "9", "9:30 pm", "9pm",
 * "12 am". Without AM/PM it is read on the 24-hour clock in every locale
 * (a 12-hour site is shown the time it was read as, so "5:45" can never be
 * taken for 17:45 unseen).
 */
export function parseTime(text: string): string | null {
  const t = text.trim().toLowerCase().replace(/\s+/g, '');
  const m = /^(\d{1,2})(?:[:.h]?(\d{2}))?(am|pm|a|p)?$/.exec(t);
  if (!m) return null;
  let h = Number(m[1]);
  const min = m[2] === undefined ? 0 : Number(m[2]);
  if (min > 59) return null;
  if (m[3]) {
    if (h < 1 || h > 12) return null;
    const pm = m[3].startsWith('p');
    h = (h % 12) + (pm ? 12 : 0);
  } else if (h > 23) {
    return null;
  }
  return `${pad(h)}:${pad(min)}`;
}

/** "Mon 23 Nov, 09:30" */
export function formatWhen(naive: string): string {
  return `${formatDay(naive)}, ${formatTime(naive)}`;
}

/** "Mon 23 Nov 2025, 09:30" when the year is not `thisYear`. */
export function formatWhenWithYear(naive: string, today: string): string {
  const y = naive.slice(0, 4);
  return y === today.slice(0, 4) ? formatWhen(naive) : `${formatDay(naive)} ${y}, ${formatTime(naive)}`;
}

/** Whole years between `dob` and `today` (both "YYYY-MM-DD"). */
export function ageOn(dob: string, today: string): number {
  const [by, bm, bd] = dob.split('-').map(Number);
  const [ty, tm, td] = today.split('-').map(Number);
  let age = ty - by;
  if (tm < bm || (tm === bm && td < bd)) age -= 1;
  return age;
}

/** "12 Mar 1985 (41)" */
export function formatDob(dob: string | null, today: string): string {
  if (!dob || !isRealDate(dob)) return dob ?? '';
  return `${formatDate(dob)} (${ageOn(dob, today)})`;
}

/** Why a date of birth is obviously wrong, or null. */
export function dobProblem(dob: string, today: string): string | null {
  if (!isRealDate(dob)) return 'is not a real date';
  if (dob > today) return 'is in the future';
  if (ageOn(dob, today) > 130) return 'is more than 130 years ago';
  return null;
}

/** "just now", "2 min ago", "3 hours ago", "yesterday", "4 days ago" (or "in 5 min"). */
export function relativeTime(iso: string, nowMs: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const diff = nowMs - t;
  const future = diff < 0;
  const s = Math.abs(diff) / 1000;
  const say = (n: number, unit: string) => (future ? `in ${n} ${unit}` : `${n} ${unit} ago`);
  if (s < 45) return future ? 'in a moment' : 'just now';
  const min = Math.round(s / 60);
  if (min < 60) return say(min, 'min');
  const h = Math.round(min / 60);
  if (h < 24) return say(h, h === 1 ? 'hour' : 'hours');
  const d = Math.round(h / 24);
  if (d === 1) return future ? 'tomorrow' : 'yesterday';
  return say(d, 'days');
}

/**
 * A date as people of the site's `locale` write it (the same patterns as the
 * printed documents, clinic_core::locale::format_date): "5 Dec 2026" (en-GB),
 * "Dec 5, 2026" (en-US), "05.12.2026" (de), "05/12/2026" (fr), ISO otherwise.
 */
export function formatDateIn(date: string, locale: string): string {
  if (!isRealDate(date.slice(0, 10))) return date;
  const d = naiveToDate(date.slice(0, 10));
  const { lang, region } = regionOf(locale);
  const day = d.getUTCDate();
  const month = d.getUTCMonth();
  const year = d.getUTCFullYear();
  const dd = pad(day);
  const mm = pad(month + 1);
  if (lang === 'en') return region === 'US' ? `${MONTHS[month]} ${day}, ${year}` : `${day} ${MONTHS[month]} ${year}`;
  if (DOT_LANGS.includes(lang)) return `${dd}.${mm}.${year}`;
  if (['fr', 'es', 'it', 'pt', 'nl', 'el', 'id'].includes(lang)) return `${dd}/${mm}/${year}`;
  return date.slice(0, 10);
}

/** Whole days from `from` to `to` (both "YYYY-MM-DD"). */
export function daysBetween(from: string, to: string): number {
  return Math.round((naiveToDate(to).getTime() - naiveToDate(from).getTime()) / 86_400_000);
}

type DateOrder = 'dmy' | 'mdy' | 'ymd';

/** Languages that write dates with dots: 05.12.2026. */
const DOT_LANGS = ['de', 'ru', 'pl', 'cs', 'sk', 'fi', 'nb', 'no', 'da', 'tr', 'uk', 'ro', 'hr', 'sl'];

function dateOrder(locale: string): DateOrder {
  const { lang, region } = regionOf(locale);
  if (lang === 'en' && region === 'US') return 'mdy';
  if (['zh', 'ja', 'ko', 'hu', 'lt', 'sv'].includes(lang)) return 'ymd';
  return 'dmy';
}

/** What a date typed in `locale` looks like: "DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD". */
export function datePattern(locale: string): string {
  const sep = DOT_LANGS.includes(regionOf(locale).lang) ? '.' : '/';
  return { dmy: `DD${sep}MM${sep}YYYY`, mdy: 'MM/DD/YYYY', ymd: 'YYYY-MM-DD' }[dateOrder(locale)];
}

/** An ISO date as typed in `locale` ("04/01/2027" in en-GB), for an input to start from. */
export function dateAsTyped(iso: string, locale: string): string {
  if (!isRealDate(iso)) return iso;
  const [y, m, d] = iso.split('-');
  const p = datePattern(locale);
  return p.startsWith('DD') ? `${d}${p[2]}${m}${p[2]}${y}` : p.startsWith('MM') ? `${m}/${d}/${y}` : iso;
}

/**
 * A date as a person types it in `locale`, as ISO "YYYY-MM-DD" (null when it
 * names no real day): "2027-01-04"; "4/1/2027", "04.01.27" (day first, or month
 * first in en-US); "01/2027" or "01/27", as packs print an expiry (the last
 * day of that month); "4 Jan 2027", "Jan 4, 2027".
 */
export function parseDateIn(text: string, locale: string): string | null {
  const t = text.trim().replace(/,/g, ' ').replace(/\s+/g, ' ');
  if (!t) return null;
  const iso = (y: number, m: number, d: number) => {
    const s = `${String(y).padStart(4, '0')}-${pad(m)}-${pad(d)}`;
    return isRealDate(s) ? s : null;
  };
  const year = (y: string) => (y.length === 2 ? 2000 + Number(y) : Number(y));
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(t);
  if (m) return iso(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$/.exec(t);
  if (m) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    return dateOrder(locale) === 'mdy' ? iso(year(m[3]), a, b) : iso(year(m[3]), b, a);
  }
  m = /^(\d{1,2})[/.-](\d{2}|\d{4})$/.exec(t);
  if (m) {
    const [y, mo] = [year(m[2]), Number(m[1])];
    if (mo < 1 || mo > 12) return null;
    return iso(y, mo, new Date(Date.UTC(y, mo, 0)).getUTCDate());
  }
  const month = (w: string) => MONTHS.findIndex((x) => w.toLowerCase().startsWith(x.toLowerCase())) + 1;
  m = /^(\d{1,2})\.? ([a-zA-Z]{3,})\.? (\d{4})$/.exec(t);
  if (m && month(m[2]) > 0) return iso(Number(m[3]), month(m[2]), Number(m[1]));
  m = /^([a-zA-Z]{3,})\.? (\d{1,2}) (\d{4})$/.exec(t);
  if (m && month(m[1]) > 0) return iso(Number(m[3]), month(m[1]), Number(m[2]));
  return null;
}
