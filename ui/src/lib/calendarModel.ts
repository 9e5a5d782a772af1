// CalendarView (from the shell) -> what EventCalendar draws, and back.
import type { AppointmentStatus, AppointmentView, CalendarView } from './bindings';
import { addDays, addMinutes, formatDate, formatDay, naiveToDate, weekStart } from './format';

export type CalMode = 'day' | 'week';
export const NO_ROOM = '__no_room__';

export const STATUS_LABEL: Record<AppointmentStatus, string> = {
  scheduled: 'Booked',
  confirmed: 'Confirmed',
  arrived: 'Arrived',
  in_progress: 'With clinician',
  completed: 'Completed',
  cancelled: 'Cancelled',
  no_show: 'Did not attend',
  rescheduled: 'Rescheduled',
};

/** The reason recorded when a check-in made by mistake is undone. */
export const UNDO_CHECK_IN = 'Check-in undone at the desk';

/** Statuses whose appointment can still be moved. */
export const MOVABLE: AppointmentStatus[] = ['scheduled', 'confirmed'];

/** The [from, to) dates the calendar command is asked for. */
export function rangeFor(date: string, mode: CalMode): { from: string; to: string } {
  if (mode === 'day') return { from: date, to: addDays(date, 1) };
  const from = weekStart(date);
  return { from, to: addDays(from, 7) };
}

export function stepDate(date: string, mode: CalMode, dir: 1 | -1): string {
  return addDays(date, dir * (mode === 'day' ? 1 : 7));
}

export function rangeTitle(date: string, mode: CalMode): string {
  if (mode === 'day') return `${formatDay(date)} ${date.slice(0, 4)}`;
  const { from, to } = rangeFor(date, mode);
  const last = addDays(to, -1);
  const a = naiveToDate(from);
  const b = naiveToDate(last);
  if (a.getUTCMonth() === b.getUTCMonth()) return `${a.getUTCDate()}–${formatDate(last)}`;
  return `${formatDate(from).replace(/ \d{4}$/, '')} – ${formatDate(last)}`;
}

export type Res = { id: string; title: string };

export function resourcesOf(view: CalendarView, byRoom: boolean): Res[] {
  if (!byRoom) return view.clinicians.map((c) => ({ id: c.id, title: c.name }));
  const rooms = view.rooms.map((r) => ({ id: r.id, title: r.name }));
  if (view.appointments.some((a) => !a.room_id)) rooms.push({ id: NO_ROOM, title: 'No room' });
  return rooms;
}

/** Dark or light text, whichever reads better on `bg` (#rrggbb). */
export function textOn(bg: string): string {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(bg.trim());
  if (!m) return '#1a1d21';
  const [r, g, b] = [m[1], m[2], m[3]].map((h) => {
    const c = parseInt(h, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return lum > 0.22 ? '#1a1d21' : '#ffffff';
}

export function isInactive(a: AppointmentView): boolean {
  return a.status === 'cancelled' || a.status === 'no_show' || a.status === 'rescheduled';
}

export function classesFor(a: AppointmentView): string[] {
  const c = ['appt', `status-${a.status}`];
  if (a.conflict) c.push('conflict');
  if (a.outside_hours) c.push('out-of-hours');
  if (isInactive(a)) c.push('inactive');
  return c;
}

export type EventIn = {
  id: string;
  start: string;
  end: string;
  resourceIds: string[];
  title: string;
  display?: 'auto' | 'background';
  backgroundColor?: string;
  textColor?: string;
  classNames: string[];
  startEditable?: boolean;
  durationEditable?: boolean;
  extendedProps: Record<string, unknown>;
};

export function eventsOf(view: CalendarView, byRoom: boolean, canMove: boolean): EventIn[] {
  const out: EventIn[] = [];
  if (!byRoom) {
    view.working.forEach((w, i) =>
      out.push({
        id: `working-${i}`,
        start: w.start_local,
        end: w.end_local,
        resourceIds: [w.clinician_id],
        title: '',
        display: 'background',
        classNames: ['working'],
        extendedProps: { working: true },
      }),
    );
  }
  for (const a of view.appointments) {
    const bg = isInactive(a) ? '#e6e9ed' : a.colour ?? '#cfe2f6';
    out.push({
      id: a.id,
      start: a.start_local,
      end: a.end_local,
      resourceIds: [byRoom ? a.room_id ?? NO_ROOM : a.clinician_id],
      title: `${a.patient_name} · ${a.type_name}`,
      backgroundColor: bg,
      textColor: textOn(bg),
      classNames: classesFor(a),
      startEditable: canMove && MOVABLE.includes(a.status),
      durationEditable: false,
      extendedProps: { appointmentId: a.id, status: a.status },
    });
  }
  return out;
}

/** Visible hours: working hours and appointments, padded by an hour, default 07:00–19:00. */
export function slotBounds(view: CalendarView): { min: string; max: string } {
  let min = 7;
  let max = 19;
  const times = [
    ...view.working.flatMap((w) => [w.start_local, w.end_local]),
    ...view.appointments.flatMap((a) => [a.start_local, a.end_local]),
  ];
  for (const t of times) {
    const d = naiveToDate(t);
    const h = d.getUTCHours() + d.getUTCMinutes() / 60;
    if (h === 0 && t.slice(11, 16) === '00:00') continue; // midnight end
    min = Math.min(min, Math.floor(h) - 1);
    max = Math.max(max, Math.ceil(h) + 1);
  }
  min = Math.max(0, min);
  max = Math.min(24, max);
  const hh = (n: number) => `${String(n).padStart(2, '0')}:00:00`;
  return { min: hh(min), max: hh(max) };
}

/** The new start of an appointment dragged by `delta` (EventCalendar's Duration). */
export function movedStart(a: AppointmentView, delta: { years?: number; months?: number; days: number; seconds: number }): string {
  let start = a.start_local;
  if (delta.days) start = `${addDays(start.slice(0, 10), delta.days)}${start.slice(10)}`;
  if (delta.seconds) start = addMinutes(start, Math.round(delta.seconds / 60));
  return start;
}

/** Default start for a new booking: the next quarter hour on `date`. */
export function defaultStart(date: string, now = new Date()): string {
  let mins = now.getHours() * 60 + now.getMinutes();
  mins = Math.ceil((mins + 1) / 15) * 15;
  if (mins >= 24 * 60) mins = 9 * 60;
  const hh = String(Math.floor(mins / 60)).padStart(2, '0');
  const mm = String(mins % 60).padStart(2, '0');
  return `${date}T${hh}:${mm}:00`;
}

// ---- Whose columns are shown -------------------------------------------------

/** The week draws at most this many clinicians side by side (7 columns each). */
export const WEEK_MAX = 4;

/**
 * Whom the desk chose to see: in the day view everyone unless narrowed
 * (null = all); in the week view one or a few (at most WEEK_MAX), by default
 * the signed-in clinician or the first one.
 */
export type ClinicianPick = { day: string[] | null; week: string[] };

export function pickKey(userId: string): string {
  return `clinic.calendar.clinicians.${userId}`;
}

export function loadPick(userId: string): ClinicianPick {
  try {
    const raw = JSON.parse(localStorage.getItem(pickKey(userId)) ?? 'null');
    if (raw && typeof raw === 'object') {
      const day = Array.isArray(raw.day) ? raw.day.map(String) : null;
      const week = Array.isArray(raw.week) ? raw.week.map(String).slice(0, WEEK_MAX) : [];
      return { day, week };
    }
  } catch {
    /* a broken saved choice is no choice */
  }
  return { day: null, week: [] };
}

export function savePick(userId: string, pick: ClinicianPick) {
  try {
    localStorage.setItem(pickKey(userId), JSON.stringify(pick));
  } catch {
    /* the choice is only a convenience */
  }
}

/** The ids shown in `mode` of those the site has (unknown ids are dropped). */
export function shownClinicians(view: CalendarView, pick: ClinicianPick, mode: CalMode, me: string): string[] {
  const ids = view.clinicians.map((c) => c.id);
  const known = (xs: string[]) => xs.filter((x) => ids.includes(x));
  if (mode === 'day') {
    const day = pick.day ? known(pick.day) : [];
    return day.length ? day : ids;
  }
  const week = known(pick.week).slice(0, WEEK_MAX);
  if (week.length) return week;
  if (ids.includes(me)) return [me];
  return ids.slice(0, 1);
}

/** The words on the chooser's button: "All 20 clinicians", "Dr Adams", "3 of 20 clinicians". */
export function pickLabel(view: CalendarView, shown: string[]): string {
  const n = view.clinicians.length;
  if (shown.length === n) return n === 1 ? view.clinicians[0].name : `All ${n} clinicians`;
  if (shown.length === 1) return view.clinicians.find((c) => c.id === shown[0])?.name ?? '1 clinician';
  return `${shown.length} of ${n} clinicians`;
}

/**
 * Where the time grid opens: an hour before now on today (so the next
 * patients are in sight), else an hour before the day's first working time
 * or appointment, else 08:00.
 */
export function openingTime(view: CalendarView, date: string, now: string): string {
  const hh = (h: number) => `${String(Math.max(0, Math.min(23, h))).padStart(2, '0')}:00:00`;
  if (date === view.today && now.slice(0, 10) === view.today) return hh(Number(now.slice(11, 13)) - 1);
  const starts = [...view.working.map((w) => w.start_local), ...view.appointments.map((a) => a.start_local)]
    .filter((t) => t.slice(0, 10) >= date)
    .map((t) => t.slice(11, 13))
    .sort();
  return starts.length ? hh(Number(starts[0]) - 1) : '08:00:00';
}
