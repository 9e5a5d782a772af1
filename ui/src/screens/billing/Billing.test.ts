import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../../lib/api';
import type { InvoiceScreen, InvoiceView, MoneyFormat, PatientAccount, PaymentRow } from '../../lib/bindings';
import { formatMoney, normalizeAmount } from '../../lib/money';
import { flush } from '../../test/helpers';
import { user } from '../../test/fixtures';
import TakePayment from '../../components/TakePayment.svelte';
import PatientAccountPanel from '../../components/PatientAccount.svelte';
import InvoiceEditor from './InvoiceEditor.svelte';

vi.mock('../../lib/api', async (orig) => (await import('../../test/helpers')).mockApi(await orig()));

const GBP: MoneyFormat = { currency: 'GBP', locale: 'en-GB', digits: 2 };
const manager = { ...user, can_bill: true, can_take_payment: true };

function view(over: Partial<InvoiceView> = {}): InvoiceView {
  return {
    id: 'inv1', tenant_id: 't', patient_id: 'p1', appointment_id: null, encounter_id: null, status: 'partially_paid',
    number: 'INV-000042', currency: 'GBP', prices_include_tax: false,
    lines: [{ item: null, code: 'CONS', description: 'Consultation', quantity: '1', unit_price: '45.00', tax_rate: '20', discount_percent: '0', gross: '45.00', discount: '0.00', tax: '9.00', total: '54.00' }],
    discount_percent: '0', notes: '', totals: { subtotal: '45.00', discount: '0.00', tax: '9.00', total: '54.00' },
    created_by: 'u', created_at: '2026-12-05T09:00:00Z', issued_by: 'u', issued_at: '2026-12-05T09:00:00Z',
    issued_on: '2026-12-05', due_on: '2027-01-04', print: null, void_reason: null, entries: [],
    paid: '30.00', refunded: '0.00', credited: '0.00', conflicts: [], updated_at: '2026-12-05T09:00:00Z',
    patient_name: 'Zoë Ōtsuka', patient_number: 'P0000013', balance: '24.00', payments: [], credit_notes: [],
    patient_credit: '0.00', creditable_lines: [0], ...over,
  };
}

const card: PaymentRow = {
  id: 'pay1', kind: 'payment', method: 'card', method_label: 'Card', amount: '30.00', received_on: '2026-12-05',
  receipt_number: 'RCT-000007', reason: null, refundable: '30.00',
};

function invoiceScreen(over: Partial<InvoiceScreen> = {}): InvoiceScreen {
  return {
    view: view(), money: GBP, payments: [card], prices: [], can_edit: true, can_take_payment: true, can_correct: true,
    today: '2026-12-08', claims: [], plan: null, ...over,
  };
}

describe('money', () => {
  it('reads amounts as people type them and shows them in the clinic currency', () => {
    expect(normalizeAmount(' 12,50 ')).toBe('12.50');
    expect(normalizeAmount('£1,234.50')).toBe('1234.50');
    expect(normalizeAmount('1.234,50')).toBe('1234.50');
    expect(normalizeAmount('40')).toBe('40');
    expect(formatMoney('1234.5', GBP)).toBe('£1,234.50');
    expect(formatMoney('12.5', { currency: 'EUR', locale: 'de-DE', digits: 2 })).toMatch(/^12,50\s€$/);
  });
});

describe('TakePayment', () => {
  beforeEach(() => vi.resetAllMocks());

  it('takes the whole balance in cash with the method key and Enter', async () => {
    vi.mocked(api.takePayment).mockResolvedValue(invoiceScreen());
    const onDone = vi.fn();
    render(TakePayment, { invoiceId: 'inv1', number: 'INV-000042', balance: '24.00', money: GBP, onDone, onCancel: vi.fn() });
    await flush();
    expect((screen.getByTestId('pay-amount') as HTMLInputElement).value).toBe('24.00');
    const focused = document.activeElement as HTMLElement;
    expect(focused.dataset.method).toBe('card');
    await fireEvent.keyDown(focused, { key: '2' });
    expect(screen.getByTestId('pay-method-cash').getAttribute('aria-pressed')).toBe('true');
    await fireEvent.keyDown(document.activeElement as HTMLElement, { key: 'Enter' });
    await flush();
    expect(api.takePayment).toHaveBeenCalledWith('inv1', '24.00', 'cash', null, null);
    expect(onDone).toHaveBeenCalledTimes(1);
  });

  it('says an amount beyond the balance stays as credit, and shows a refusal', async () => {
    vi.mocked(api.takePayment).mockRejectedValue({ code: 'VALIDATION', message: 'amount: must have at most 2 decimals' });
    render(TakePayment, { invoiceId: 'inv1', number: 'INV-000042', balance: '24.00', money: GBP, onDone: vi.fn(), onCancel: vi.fn() });
    await flush();
    await fireEvent.input(screen.getByTestId('pay-amount'), { target: { value: '30,00' } });
    expect(screen.getByTestId('pay-credit-hint').textContent).toContain('£6.00 more than the balance');
    await fireEvent.click(screen.getByTestId('pay-record'));
    await flush();
    expect(api.takePayment).toHaveBeenCalledWith('inv1', '30.00', 'card', null, null);
    expect(screen.getByTestId('pay-error').textContent).toContain('at most 2 decimals');
  });
});

describe('InvoiceEditor', () => {
  beforeEach(() => vi.resetAllMocks());

  it('refunds only after the manager confirms the amount and reason', async () => {
    vi.mocked(api.invoice).mockResolvedValue(invoiceScreen());
    vi.mocked(api.refundPayment).mockResolvedValue(invoiceScreen({ view: view({ refunded: '10.00', balance: '34.00' }) }));
    render(InvoiceEditor, { invoiceId: 'inv1', user: manager, navigate: vi.fn() });
    await flush();
    expect(screen.getByTestId('invoice-balance').textContent).toBe('£24.00');
    await fireEvent.click(screen.getByTestId('refund-open'));
    await fireEvent.input(screen.getByTestId('refund-amount'), { target: { value: '10' } });
    await fireEvent.input(screen.getByTestId('refund-reason'), { target: { value: 'Overcharged' } });
    await fireEvent.click(screen.getByTestId('refund-continue'));
    await flush();
    expect(api.refundPayment).not.toHaveBeenCalled();
    expect(screen.getByTestId('refund-confirm-text').textContent).toContain('£10.00');
    expect(screen.getByTestId('refund-confirm-text').textContent).toContain('Zoë Ōtsuka');
    await fireEvent.click(screen.getByTestId('refund-confirm'));
    await flush();
    expect(api.refundPayment).toHaveBeenCalledWith('pay1', '10', 'Overcharged');
    expect(screen.getByTestId('invoice-balance').textContent).toBe('£34.00');
  });

  it('shows an issued invoice read-only and a receptionist no corrections', async () => {
    vi.mocked(api.invoice).mockResolvedValue(invoiceScreen({ can_correct: false }));
    render(InvoiceEditor, { invoiceId: 'inv1', user: manager, navigate: vi.fn() });
    await flush();
    expect(screen.queryByTestId('line-qty')).toBeNull();
    expect(screen.queryByTestId('refund-open')).toBeNull();
    expect(screen.queryByTestId('credit-open')).toBeNull();
    expect(screen.getByTestId('take-payment-open')).toBeTruthy();
  });
});

describe('PatientAccount', () => {
  beforeEach(() => vi.resetAllMocks());

  it('opens a payment for the oldest invoice owing on Alt+P', async () => {
    const row = (id: string, number: string, issued: string, balance: string) => ({
      id, number, status: 'issued' as const, patient_id: 'p1', patient_name: 'Zoë', patient_number: 'P1', created_at: `${issued}T09:00:00Z`,
      issued_on: issued, due_on: null, currency: 'GBP', total: balance, balance, open_conflicts: 0,
    });
    const acc: PatientAccount = {
      account: { patient_id: 'p1', patient_name: 'Zoë', patient_number: 'P1', currency: 'GBP', owed: '99.00', credit: '0.00', open_invoices: 2 },
      money: GBP,
      invoices: [row('i2', 'INV-000002', '2026-12-04', '54.00'), row('i1', 'INV-000001', '2026-11-02', '45.00')],
      billable: [],
      overdue_plans: [],
      today: '2026-12-08',
    };
    vi.mocked(api.patientAccount).mockResolvedValue(acc);
    render(PatientAccountPanel, { patientId: 'p1', patientName: 'Zoë', user: manager, navigate: vi.fn() });
    await flush();
    expect(screen.getByTestId('account-owed').textContent).toBe('£99.00');
    await fireEvent.keyDown(window, { key: 'p', altKey: true });
    await flush();
    expect(screen.getByTestId('take-payment').textContent).toContain('INV-000001');
    expect((screen.getByTestId('pay-amount') as HTMLInputElement).value).toBe('45.00');
  });
});
