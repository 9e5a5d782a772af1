// Words and small rules the stock screens share: labels of alert kinds,
// order states and ledger movements, expiry states, signed quantities.
import type { AlertKind, OrderStatus, SessionView, StockFrame } from './bindings';
import type { Navigate, Route } from './nav';
import { daysBetween, formatDateIn } from './format';

export const ALERT_KINDS: { kind: AlertKind; label: string; hint: string }[] = [
  { kind: 'negative', label: 'Below zero', hint: 'More was given out than was recorded (two desks, or a delivery not received).' },
  { kind: 'expired', label: 'Expired', hint: 'Lots past their expiry date with stock on hand: write them off.' },
  { kind: 'expiring', label: 'Expiring soon', hint: 'Lots with stock that expire soon: use them first.' },
  { kind: 'low', label: 'Low stock', hint: 'Items below their reorder point at a site.' },
];

export const ORDER_STATUS_LABEL: Record<OrderStatus, string> = {
  pending: 'Waiting for approval',
  approved: 'Approved',
  sent: 'Sent',
  partially_received: 'Partly received',
  received: 'Received',
  cancelled: 'Cancelled',
};

/** "+10", "−6" (a real minus), "0". */
export function signed(n: number): string {
  return n > 0 ? `+${n}` : n < 0 ? `−${Math.abs(n)}` : '0';
}

export type ExpiryState = 'expired' | 'expiring' | 'ok';

/** Whether a lot's expiry has passed, falls within the frame's window, or neither. */
export function expiryState(expiry: string | null, frame: StockFrame): ExpiryState | null {
  if (!expiry) return null;
  const days = daysBetween(frame.today, expiry);
  if (days < 0) return 'expired';
  return days <= frame.expiring_days ? 'expiring' : 'ok';
}

/** "31 Jan 2027 (in 30 days)", "2 Dec 2026 (expired)", in the site's locale. */
export function expiryText(expiry: string | null, frame: StockFrame): string {
  if (!expiry) return '—';
  const shown = formatDateIn(expiry, frame.money.locale);
  const days = daysBetween(frame.today, expiry);
  if (days < 0) return `${shown} (expired)`;
  if (days === 0) return `${shown} (today)`;
  if (days <= frame.expiring_days) return `${shown} (in ${days} day${days === 1 ? '' : 's'})`;
  return shown;
}

/** A lot as people read it ("-" for an item not kept by lot). */
export function lotName(lot: string | null | undefined): string {
  return lot && lot.trim() ? lot : '—';
}

const SITE_KEY = 'clinic.stock.site';

/** The site the stock list was last switched to on this workstation (null: the home site). */
export function savedSite(): string | null {
  try {
    return localStorage.getItem(SITE_KEY);
  } catch {
    return null;
  }
}

export function saveSite(id: string) {
  try {
    localStorage.setItem(SITE_KEY, id);
  } catch {
    /* not kept: the home site next time */
  }
}

/** "24 capsules", "1 capsule", "2 boxes", "30 ml" (abbreviations stay as they are). */
export function units(n: number, unit: string): string {
  const u = unit.trim();
  if (Math.abs(n) === 1 || !/^[a-z]{3,}$/.test(u) || u.endsWith('s')) return `${n} ${u}`;
  if (/(x|ch|sh)$/.test(u)) return `${n} ${u}es`;
  if (/[^aeiou]y$/.test(u)) return `${n} ${u.slice(0, -1)}ies`;
  return `${n} ${u}s`;
}

/** What every stock screen is given by the main window. */
export type StockScreenProps<N extends Route['name']> = {
  route: Extract<Route, { name: N }>;
  user: SessionView;
  navigate: Navigate;
  /** The stock alerts' count (the tabs' badge). */
  alerts?: number | null;
  /** The last successful sync: lists reload when it changes. */
  syncStamp?: string | null;
  /** Called after the screen changed stock (the badge is read again). */
  onChanged?: () => void;
};
