// Which screen the main window shows. No router: one value in Main.svelte.
export type PatientRef = { id: string; name: string };

export type Route =
  | { name: 'patients'; mode: 'home' | 'new' }
  | { name: 'patients'; mode: 'summary' | 'edit'; patientId: string }
  | { name: 'calendar'; bookFor?: PatientRef | null }
  | { name: 'conflicts' }
  | { name: 'day' }
  | { name: 'chart'; patientId: string }
  | { name: 'note'; encounterId: string }
  | { name: 'admin' }
  | { name: 'billing' }
  | { name: 'claims' }
  | { name: 'cash-up' }
  | { name: 'period-close' }
  | { name: 'invoice'; invoiceId: string }
  | { name: 'new-invoice'; patientId: string; patientName: string; appointmentId: string | null }
  | { name: 'stock'; dispense?: string | null }
  | { name: 'stock-item'; code: string }
  | { name: 'stock-alerts' }
  | { name: 'orders' }
  | { name: 'order'; orderId: string }
  | { name: 'stocktakes' }
  | { name: 'stocktake'; stocktakeId: string };

/** The routes of the billing screens (one "Billing" entry in the main navigation). */
export const BILLING_ROUTES = ['billing', 'invoice', 'new-invoice', 'claims', 'cash-up', 'period-close'] as const;

/** The routes of the stock screens (one "Stock" entry in the main navigation). */
export const STOCK_ROUTES = ['stock', 'stock-item', 'stock-alerts', 'orders', 'order', 'stocktakes', 'stocktake'] as const;

export type Navigate = (r: Route) => void;

/** True when the key press is aimed at a text input (so single-key shortcuts must not fire). */
export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
}

/** An action: brings a newly opened form into view and focuses its first field. */
export function reveal(node: HTMLElement) {
  node.scrollIntoView?.({ block: 'nearest' });
  node.querySelector<HTMLElement>('input, textarea, select, button[aria-pressed="true"]')?.focus();
}
