// Words and small rules the manager's billing screens share: claim and
// plan states, the methods a cash-up counts, where an instalment stands,
// and refusals with their dates in the clinic's locale.
import type { ClaimStatus, ClinicError, Instalment, PaymentMethod, PlanStatus, PlanView } from './bindings';
import { formatDateIn } from './format';

export const CLAIM_STATUS_LABEL: Record<ClaimStatus, string> = {
  pending: 'Waiting for the insurer',
  approved: 'Approved',
  partially_paid: 'Partly paid',
  denied: 'Denied',
};

export const PLAN_STATUS_LABEL: Record<PlanStatus, string> = {
  active: 'On track',
  completed: 'Paid off',
  defaulted: 'In default (over 30 days late)',
};

/** The methods a desk counts at the end of the day, in the order the screen shows them. */
export const COUNTED_METHODS: { method: PaymentMethod; label: string }[] = [
  { method: 'cash', label: 'Cash' },
  { method: 'card', label: 'Card' },
  { method: 'bank_transfer', label: 'Bank transfer' },
];

export const METHOD_LABEL: Record<PaymentMethod, string> = {
  cash: 'Cash',
  card: 'Card',
  bank_transfer: 'Bank transfer',
  insurance: 'Insurance',
  credit: "Patient's credit",
};

/** Every ISO day ("2026-11-30") in a message, as the clinic writes dates ("30 Nov 2026"). */
export function localiseDates(message: string, locale: string): string {
  return message.replace(/\b(\d{4}-\d{2}-\d{2})\b/g, (d) => formatDateIn(d, locale));
}

/** A refusal as the screens say it: PERIOD_CLOSED (and any other) with the clinic's dates. */
export function refusal(err: ClinicError, locale: string): string {
  const text = localiseDates(err.message, locale);
  return err.code === 'PERIOD_CLOSED' && !/closed/i.test(text) ? `The books are closed for that day. ${text}` : text;
}

export type InstalmentState = 'paid' | 'part_paid' | 'overdue' | 'due_today' | 'upcoming';

/**
 * Where one instalment stands: paid when what the plan has received covers
 * it and those before it; otherwise overdue (its day has passed), due
 * today, or upcoming. The shell's `progress` decides what is owing; this
 * only labels each line of it.
 */
export function instalmentState(i: Instalment, p: PlanView, today: string): InstalmentState {
  const upTo = p.plan.instalments.filter((x) => x.n <= i.n).reduce((s, x) => s + Number(x.amount), 0);
  const before = upTo - Number(i.amount);
  const paid = Number(p.progress.paid);
  if (paid + 0.000001 >= upTo) return 'paid';
  if (p.progress.overdue_instalments.includes(i.n)) return i.due_on < today ? 'overdue' : 'due_today';
  return paid > before + 0.000001 ? 'part_paid' : 'upcoming';
}

export const INSTALMENT_LABEL: Record<InstalmentState, string> = {
  paid: 'Paid',
  part_paid: 'Part paid',
  overdue: 'Overdue',
  due_today: 'Due today',
  upcoming: 'Upcoming',
};

/** The oldest instalment still owing whose day has come (null when none). */
export function oldestDue(p: PlanView): Instalment | null {
  const n = p.progress.overdue_instalments[0];
  return n === undefined ? null : (p.plan.instalments.find((i) => i.n === n) ?? null);
}

/** An instant (RFC 3339) as this computer's calendar day and time: ["2026-12-04", "14:05"]. */
export function localDayAndTime(iso: string): [string, string] {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return [iso.slice(0, 10), ''];
  const pad = (n: number) => String(n).padStart(2, '0');
  return [`${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`, `${pad(d.getHours())}:${pad(d.getMinutes())}`];
}
