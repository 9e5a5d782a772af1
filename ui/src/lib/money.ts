// Money as the screens show it: the clinic's currency and locale (a synced
// setting), amounts kept as the decimal strings the shell sends.
import type { InvoiceStatus, MoneyFormat, PaymentMethod } from './bindings';

const formatters = new Map<string, Intl.NumberFormat>();

function formatter(m: MoneyFormat): Intl.NumberFormat {
  const key = `${m.locale}|${m.currency}|${m.digits}`;
  let f = formatters.get(key);
  if (!f) {
    try {
      f = new Intl.NumberFormat(m.locale, {
        style: 'currency',
        currency: m.currency,
        minimumFractionDigits: m.digits,
        maximumFractionDigits: m.digits,
      });
    } catch {
      f = new Intl.NumberFormat(undefined, { minimumFractionDigits: m.digits, maximumFractionDigits: m.digits });
    }
    formatters.set(key, f);
  }
  return f;
}

/** "12.50" as "£12.50" (en-GB, GBP) or "12,50 €" (de-DE, EUR). */
export function formatMoney(amount: string | null | undefined, m: MoneyFormat): string {
  if (amount === null || amount === undefined || amount === '') return '—';
  const n = Number(amount);
  return Number.isFinite(n) ? formatter(m).format(n) : amount;
}

/** Whether an amount is above zero. */
export function positive(amount: string): boolean {
  return Number(amount) > 0;
}

/**
 * What a person typed, as the plain decimal the shell reads: spaces and
 * currency signs dropped, a decimal comma made a point ("12,50" → "12.50").
 */
export function normalizeAmount(typed: string): string {
  let t = typed.trim().replace(/[\s'’\u00a0\u202f£€$¥₹]/g, '');
  if (t.includes(',') && !t.includes('.')) {
    const parts = t.split(',');
    t = parts.length === 2 && parts[1].length <= 3 && parts[1].length !== 3 ? `${parts[0]}.${parts[1]}` : parts.join('');
  } else if (t.includes(',') && t.includes('.')) {
    t = t.lastIndexOf(',') > t.lastIndexOf('.') ? t.replace(/\./g, '').replace(',', '.') : t.replace(/,/g, '');
  }
  return t;
}

export const STATUS_LABEL: Record<InvoiceStatus, string> = {
  draft: 'Draft',
  discarded: 'Discarded',
  issued: 'Unpaid',
  partially_paid: 'Part paid',
  paid: 'Paid',
  void: 'Void',
};

/** The methods a desk takes money by, with the key that picks each. */
export const METHODS: { method: PaymentMethod; label: string; key: string }[] = [
  { method: 'card', label: 'Card', key: '1' },
  { method: 'cash', label: 'Cash', key: '2' },
  { method: 'bank_transfer', label: 'Bank transfer', key: '3' },
  { method: 'insurance', label: 'Insurance', key: '4' },
];
