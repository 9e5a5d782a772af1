import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../../lib/api';
import type {
  BillingFrame,
  BillingHome,
  CashUpScreen,
  ClaimView,
  InvoiceScreen,
  InvoiceView,
  MoneyFormat,
  PatientAccount,
  PeriodClosing,
  PeriodScreen,
  PlanView,
} from '../../lib/bindings';
import { instalmentState, localiseDates, refusal } from '../../lib/accounts';
import { clinicError, flush } from '../../test/helpers';
import { user } from '../../test/fixtures';
import Claims from './Claims.svelte';
import ClaimDecision from './ClaimDecision.svelte';
import InvoiceEditor from './InvoiceEditor.svelte';
import CashUp from './CashUp.svelte';
import PeriodClose from './PeriodClose.svelte';
import Invoices from './Invoices.svelte';
import PatientAccountPanel from '../../components/PatientAccount.svelte';

vi.mock('../../lib/api', async (orig) => (await import('../../test/helpers')).mockApi(await orig()));

const GBP: MoneyFormat = { currency: 'GBP', locale: 'en-GB', digits: 2 };
const TODAY = '2026-12-08';
const manager = { ...user, can_bill: true, can_take_payment: true, is_admin: true };
const frame: BillingFrame = { money: GBP, today: TODAY, can_take_payment: true, can_decide_claims: true, can_close_period: true };

function claim(over: Partial<ClaimView> = {}): ClaimView {
  return {
    id: 'c1', tenant_id: 't', number: 'CLM-000001', invoice_id: 'inv1', invoice_number: 'INV-000042', patient_id: 'p1',
    provider: 'Bupa', policy_number: 'POL-1', currency: 'GBP', claimed: '40.00', approved: '0.00', status: 'pending',
    submitted_on: '2026-12-01', decided_on: null, reason: null, payments: [], created_by: 'u', created_at: '2026-12-01T10:00:00Z',
    updated_at: '2026-12-01T10:00:00Z', patient_name: 'Zoë Ōtsuka', invoice_balance: '54.00', ...over,
  };
}

function view(over: Partial<InvoiceView> = {}): InvoiceView {
  return {
    id: 'inv1', tenant_id: 't', patient_id: 'p1', appointment_id: null, encounter_id: null, status: 'issued',
    number: 'INV-000042', currency: 'GBP', prices_include_tax: false,
    lines: [{ item: null, code: 'CONS', description: 'Consultation', quantity: '1', unit_price: '54.00', tax_rate: '0', discount_percent: '0', gross: '54.00', discount: '0.00', tax: '0.00', total: '54.00' }],
    discount_percent: '0', notes: '', totals: { subtotal: '54.00', discount: '0.00', tax: '0.00', total: '54.00' },
    created_by: 'u', created_at: '2026-12-01T09:00:00Z', issued_by: 'u', issued_at: '2026-12-01T09:00:00Z',
    issued_on: '2026-12-01', due_on: '2026-12-31', print: null, void_reason: null, entries: [],
    paid: '0.00', refunded: '0.00', credited: '0.00', conflicts: [], updated_at: '2026-12-01T09:00:00Z',
    patient_name: 'Zoë Ōtsuka', patient_number: 'P0000013', balance: '54.00', payments: [], credit_notes: [],
    patient_credit: '0.00', creditable_lines: [0], ...over,
  };
}

function invoiceScreen(over: Partial<InvoiceScreen> = {}): InvoiceScreen {
  return {
    view: view(), money: GBP, payments: [], prices: [], can_edit: true, can_take_payment: true, can_correct: true,
    today: TODAY, claims: [], plan: null, ...over,
  };
}

function plan(paid: string, overdue: string, overdueN: number[], first = '2026-11-08'): PlanView {
  const due = (n: number) => ['', first, '2026-11-08', '2027-01-08'][n];
  return {
    plan: {
      id: 'pl1', tenant_id: 't', invoice_id: 'inv1', invoice_number: 'INV-000042', patient_id: 'p1', currency: 'GBP', amount: '24.00',
      every: 'month', created_by: 'u', created_at: '2026-11-08T10:00:00Z',
      instalments: [1, 2, 3].map((n) => ({ n, due_on: due(n), amount: '8.00' })),
    },
    progress: { status: 'active', paid, overdue, overdue_instalments: overdueN, next: null },
    patient_name: 'Zoë Ōtsuka',
  };
}

describe('the manager billing words', () => {
  it('writes the dates of a refusal as the clinic does and names a closed period', () => {
    expect(localiseDates('closed up to 2026-11-30: date it 2026-12-01 or later', 'en-GB')).toBe(
      'closed up to 30 Nov 2026: date it 1 Dec 2026 or later',
    );
    expect(refusal(clinicError('PERIOD_CLOSED', 'The books are closed up to 2026-11-30: A payment cannot be dated 2026-11-29.'), 'de-DE'))
      .toBe('The books are closed up to 30.11.2026: A payment cannot be dated 29.11.2026.');
  });

  it('labels each instalment from what the plan has received', () => {
    const p = plan('8.00', '8.00', [2], '2026-10-08');
    expect(p.plan.instalments.map((i) => instalmentState(i, p, TODAY))).toEqual(['paid', 'overdue', 'upcoming']);
    const q = plan('0.00', '8.00', [1], TODAY);
    expect(instalmentState(q.plan.instalments[0], q, TODAY)).toBe('due_today');
  });
});

describe('Claims', () => {
  beforeEach(() => vi.resetAllMocks());

  it('lists claims with their invoice balance, filters the open ones and records an approval', async () => {
    vi.mocked(api.claims).mockResolvedValue({ frame, claims: [claim(), claim({ id: 'c2', number: 'CLM-000002', status: 'denied', reason: 'Not covered', decided_on: '2026-12-03' })] });
    render(Claims, { user: manager, navigate: vi.fn() });
    await flush();
    const rows = screen.getAllByTestId('claim-row');
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain('CLM-000001');
    expect(rows[0].textContent).toContain('Zoë Ōtsuka');
    expect(rows[0].textContent).toContain('Bupa');
    expect(rows[0].textContent).toContain('£40.00');
    expect(rows[0].textContent).toContain('Waiting for the insurer');
    expect(rows[0].textContent).toContain('1 Dec 2026');
    expect(screen.getAllByTestId('claim-balance')[0].textContent).toBe('£54.00');
    expect(rows[1].textContent).toContain('Not covered');
    // Only an open claim is decided.
    expect(screen.getAllByTestId('claim-decide')).toHaveLength(1);
    expect(screen.getByTestId('billing-tab-period-close')).toBeTruthy();

    await fireEvent.click(screen.getByTestId('claims-open'));
    await flush();
    expect(api.claims).toHaveBeenLastCalledWith(true);

    vi.mocked(api.decideClaim).mockResolvedValue(invoiceScreen({
      view: view({ balance: '24.00', paid: '30.00', status: 'partially_paid' }),
      claims: [claim({ status: 'approved', approved: '30.00', invoice_balance: '24.00', decided_on: TODAY })],
    }));
    await fireEvent.click(screen.getByTestId('claim-decide'));
    expect((screen.getByTestId('decision-approved') as HTMLInputElement).value).toBe('40.00');
    await fireEvent.input(screen.getByTestId('decision-approved'), { target: { value: '30' } });
    expect(screen.getByTestId('decision-effect').textContent).toContain('£30.00');
    expect(screen.getByTestId('decision-effect').textContent).toContain('£24.00');
    await fireEvent.click(screen.getByTestId('decision-save'));
    await flush();
    expect(api.decideClaim).toHaveBeenCalledWith({ claim_id: 'c1', status: 'approved', approved: '30', reason: null, date: TODAY });
    expect(screen.getByTestId('claims-notice').textContent).toContain('INV-000042 now owes £24.00');
    expect(api.claims).toHaveBeenCalledTimes(3);
  });
});

describe('ClaimDecision', () => {
  beforeEach(() => vi.resetAllMocks());

  it('needs the insurer’s reason for a denial and shows a closed period plainly', async () => {
    vi.mocked(api.decideClaim).mockRejectedValue(
      clinicError('PERIOD_CLOSED', 'The books are closed up to 2026-11-30: An insurance payment cannot be dated 2026-11-29. Date it 2026-12-01 or later.'),
    );
    const onDone = vi.fn();
    render(ClaimDecision, { claim: claim(), money: GBP, today: TODAY, onDone, onCancel: vi.fn() });
    await flush();
    await fireEvent.click(screen.getByTestId('decision-status-denied'));
    expect(screen.queryByTestId('decision-approved')).toBeNull();
    expect((screen.getByTestId('decision-save') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByTestId('decision-status-partially_paid'));
    await fireEvent.input(screen.getByTestId('decision-approved'), { target: { value: '10,00' } });
    await fireEvent.input(screen.getByTestId('decision-date'), { target: { value: '29/11/2026' } });
    await fireEvent.click(screen.getByTestId('decision-save'));
    await flush();
    expect(api.decideClaim).toHaveBeenCalledWith({ claim_id: 'c1', status: 'partially_paid', approved: '10.00', reason: null, date: '2026-11-29' });
    expect(screen.getByTestId('decision-error').textContent).toBe(
      'The books are closed up to 30 Nov 2026: An insurance payment cannot be dated 29 Nov 2026. Date it 1 Dec 2026 or later.',
    );
    expect(onDone).not.toHaveBeenCalled();
  });
});

describe('InvoiceEditor: claims and instalments', () => {
  beforeEach(() => vi.resetAllMocks());

  it('claims from an insurer on an issued invoice and shows the insurer’s payment in the balance', async () => {
    vi.mocked(api.invoice).mockResolvedValue(invoiceScreen());
    vi.mocked(api.addClaim).mockResolvedValue(invoiceScreen({ claims: [claim()] }));
    render(InvoiceEditor, { invoiceId: 'inv1', user: manager, navigate: vi.fn() });
    await flush();
    await fireEvent.click(screen.getByTestId('claim-open'));
    expect((screen.getByTestId('claim-amount') as HTMLInputElement).value).toBe('54.00');
    await fireEvent.input(screen.getByTestId('claim-provider'), { target: { value: ' Bupa ' } });
    await fireEvent.input(screen.getByTestId('claim-amount'), { target: { value: '40' } });
    await fireEvent.input(screen.getByTestId('claim-policy'), { target: { value: 'POL-1' } });
    await fireEvent.click(screen.getByTestId('claim-submit'));
    await flush();
    expect(api.addClaim).toHaveBeenCalledWith('inv1', 'Bupa', '40', 'POL-1');
    expect(screen.getByTestId('invoice-notice').textContent).toContain('CLM-000001');
    expect(screen.getByTestId('invoice-claim').dataset.status).toBe('pending');

    vi.mocked(api.decideClaim).mockResolvedValue(invoiceScreen({
      view: view({ balance: '14.00', paid: '40.00', status: 'partially_paid' }),
      payments: [{ id: 'pay9', kind: 'payment', method: 'insurance', method_label: 'Insurance', amount: '40.00', received_on: TODAY, receipt_number: 'RCT-000009', reason: null, refundable: '40.00' }],
      claims: [claim({ status: 'approved', approved: '40.00', invoice_balance: '14.00' })],
    }));
    await fireEvent.click(screen.getByTestId('invoice-claim-decide'));
    await fireEvent.click(screen.getByTestId('decision-save'));
    await flush();
    expect(screen.getByTestId('invoice-balance').textContent).toBe('£14.00');
    expect(screen.getByTestId('payments').textContent).toContain('Insurance');
    expect(screen.getByTestId('invoice-claim').dataset.status).toBe('approved');
  });

  it('spreads what is owing over instalments and highlights the overdue one', async () => {
    vi.mocked(api.invoice).mockResolvedValue(invoiceScreen({ view: view({ balance: '24.00' }) }));
    vi.mocked(api.addPlan).mockResolvedValue(invoiceScreen({ plan: plan('8.00', '8.00', [2], '2026-10-08') }));
    render(InvoiceEditor, { invoiceId: 'inv1', user: manager, navigate: vi.fn() });
    await flush();
    await fireEvent.click(screen.getByTestId('plan-open'));
    expect(screen.getByTestId('plan-summary').textContent).toContain('3 × about £8.00');
    expect(screen.getByTestId('plan-summary').textContent).toContain('from 8 Dec 2026');
    await fireEvent.change(screen.getByTestId('plan-count'), { target: { value: '3' } });
    await fireEvent.click(screen.getByTestId('plan-every-week'));
    await fireEvent.click(screen.getByTestId('plan-submit'));
    await flush();
    expect(api.addPlan).toHaveBeenCalledWith('inv1', 3, 'week', TODAY);
    const states = screen.getAllByTestId('instalment').map((r) => r.dataset.state);
    expect(states).toEqual(['paid', 'overdue', 'upcoming']);
    expect(screen.getByTestId('plan-due').textContent).toContain('Overdue: £8.00');
    expect(screen.getByTestId('plan-paid').textContent).toBe('£8.00');
    expect(screen.queryByTestId('plan-open')).toBeNull();
  });

  it('says a payment dated in a closed period is refused', async () => {
    vi.mocked(api.invoice).mockResolvedValue(invoiceScreen());
    vi.mocked(api.takePayment).mockRejectedValue(
      clinicError('PERIOD_CLOSED', 'The books are closed up to 2026-11-30: A payment cannot be dated 2026-11-28. Date it 2026-12-01 or later.'),
    );
    render(InvoiceEditor, { invoiceId: 'inv1', user: manager, navigate: vi.fn() });
    await flush();
    await fireEvent.click(screen.getByTestId('take-payment-open'));
    await fireEvent.click(screen.getByTestId('pay-another-day'));
    await fireEvent.input(screen.getByTestId('pay-date'), { target: { value: '28/11/2026' } });
    await fireEvent.click(screen.getByTestId('pay-record'));
    await flush();
    expect(api.takePayment).toHaveBeenCalledWith('inv1', '54.00', 'card', null, '2026-11-28');
    expect(screen.getByTestId('pay-error').textContent).toContain('The books are closed up to 30 Nov 2026');
  });
});

function cashUpScreen(over: Partial<CashUpScreen['day']> = {}): CashUpScreen {
  return {
    frame,
    day: {
      day: TODAY, desk_id: 'd1', desk_name: 'Front desk', currency: 'GBP', expected_total: '45.00', closed: null, late: [],
      takings: [
        { method: 'cash', taken: '20.00', refunded: '5.00', expected: '15.00', count: 2 },
        { method: 'card', taken: '30.00', refunded: '0.00', expected: '30.00', count: 1 },
      ],
      ...over,
    },
  };
}

describe('CashUp', () => {
  beforeEach(() => vi.resetAllMocks());

  it('shows the difference as counts are typed, needs a reason when it differs, and closes after a confirmation', async () => {
    vi.mocked(api.cashUp).mockResolvedValue(cashUpScreen());
    render(CashUp, { user: manager, navigate: vi.fn() });
    await flush();
    expect(api.cashUp).toHaveBeenCalledWith(null);
    const cash = screen.getAllByTestId('takings-row')[0];
    expect(cash.textContent).toContain('£20.00');
    expect(cash.textContent).toContain('−£5.00');
    expect(cash.dataset.expected).toBe('15.00');
    const close = screen.getByTestId('cashup-close') as HTMLButtonElement;
    expect(close.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('count-cash'), { target: { value: '14.50' } });
    expect(screen.getByTestId('difference-cash').textContent?.trim()).toBe('-£0.50');
    expect(screen.getByTestId('cashup-missing').textContent).toContain('card');
    await fireEvent.input(screen.getByTestId('count-card'), { target: { value: '30' } });
    expect(screen.getByTestId('difference-card').textContent?.trim()).toBe('£0.00');
    expect(screen.getByTestId('difference-total').textContent?.trim()).toBe('-£0.50');
    expect(close.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('cashup-reason'), { target: { value: '50p short in the float' } });
    expect(close.disabled).toBe(false);
    await fireEvent.click(close);
    expect(api.closeCashUp).not.toHaveBeenCalled();
    expect(screen.getByTestId('cashup-confirm-box').textContent).toContain('-£0.50');

    vi.mocked(api.closeCashUp).mockResolvedValue(cashUpScreen({
      closed: {
        id: 'cu1', tenant_id: 't', desk_id: 'd1', desk_name: 'Front desk', day: TODAY, currency: 'GBP', payments: ['a', 'b', 'c'],
        reason: '50p short in the float', closed_by: 'u', closed_at: '2026-12-08T17:30:00Z',
        lines: [
          { method: 'cash', expected: '15.00', counted: '14.50', difference: '-0.50' },
          { method: 'card', expected: '30.00', counted: '30.00', difference: '0.00' },
        ],
      },
      late: [{ payment_id: 'late1', receipt_number: 'RCT-000011', day: '2026-12-07', kind: 'payment', method: 'cash', amount: '1.00' }],
    }));
    await fireEvent.click(screen.getByTestId('cashup-confirm'));
    await flush();
    expect(api.closeCashUp).toHaveBeenCalledWith(TODAY, [{ method: 'cash', amount: '14.50' }, { method: 'card', amount: '30' }], '50p short in the float');
    expect(screen.getByTestId('cashup-screen').dataset.closed).toBe('true');
    expect(screen.getAllByTestId('closed-line')).toHaveLength(2);
    expect(screen.getByTestId('cashup-closed').textContent).toContain('50p short in the float');
    expect(screen.getByTestId('late-payment').textContent).toContain('RCT-000011');
    expect(screen.getByTestId('late-payment').textContent).toContain('7 Dec 2026');
  });

  it('reads another day typed in the clinic’s order', async () => {
    vi.mocked(api.cashUp).mockResolvedValue(cashUpScreen());
    render(CashUp, { user: manager, navigate: vi.fn() });
    await flush();
    vi.mocked(api.cashUp).mockResolvedValue(cashUpScreen({ day: '2026-12-07', takings: [] }));
    await fireEvent.input(screen.getByTestId('cashup-day'), { target: { value: '07/12/2026' } });
    await flush();
    expect(api.cashUp).toHaveBeenLastCalledWith('2026-12-07');
    expect(screen.getByTestId('cashup-nothing')).toBeTruthy();
  });
});

function periodScreen(over: Partial<PeriodScreen> = {}): PeriodScreen {
  return { frame, lock: null, suggested_until: '2026-11-30', ...over };
}

function closing(over: Partial<PeriodClosing> = {}): PeriodClosing {
  return { until: '2026-11-30', closed_until_before: null, unsynced_desks: [], closed: false, sent: false, ...over };
}

describe('PeriodClose', () => {
  beforeEach(() => vi.resetAllMocks());

  it('checks the desks for the end of last month, then closes the books after a confirmation', async () => {
    vi.mocked(api.periodLock).mockResolvedValue(periodScreen());
    vi.mocked(api.previewClose).mockResolvedValue(closing({
      unsynced_desks: [{ id: 'd3', name: 'Branch laptop', last_synced_at: null }],
    }));
    render(PeriodClose, { user: manager, navigate: vi.fn() });
    await flush();
    expect(screen.getByTestId('period-closed-until').textContent).toContain('No period has been closed yet');
    expect((screen.getByTestId('period-until') as HTMLInputElement).value).toBe('30/11/2026');
    expect(screen.queryByTestId('period-close')).toBeNull();
    await fireEvent.click(screen.getByTestId('period-check'));
    await flush();
    expect(api.previewClose).toHaveBeenCalledWith('2026-11-30');
    expect(screen.getByTestId('unsynced-desk').textContent).toContain('Branch laptop');
    expect(screen.getByTestId('unsynced-desk').textContent).toContain('never synced');
    await fireEvent.click(screen.getByTestId('period-close'));
    expect(api.closePeriod).not.toHaveBeenCalled();
    expect(screen.getByTestId('period-confirm-box').textContent).toContain('30 Nov 2026');
    vi.mocked(api.closePeriod).mockResolvedValue(closing({
      closed: true, sent: true, unsynced_desks: [{ id: 'd3', name: 'Branch laptop', last_synced_at: null }],
    }));
    vi.mocked(api.periodLock).mockResolvedValue(periodScreen({
      lock: { id: 'l', tenant_id: 't', closed_until: '2026-11-30', updated_at: '2026-12-08T10:00:00Z',
        closes: [{ until: '2026-11-30', by: 'u', at: '2026-12-08T10:00:00Z', unsynced_desks: ['Branch laptop'], note: 'November' }] },
    }));
    await fireEvent.input(screen.getByTestId('period-note'), { target: { value: 'November' } });
    await fireEvent.click(screen.getByTestId('period-close-confirm'));
    await flush();
    expect(api.closePeriod).toHaveBeenCalledWith('2026-11-30', 'November');
    expect(screen.getByTestId('period-done').textContent).toContain('on or before 30 Nov 2026');
    expect(screen.getByTestId('period-done').textContent).toContain('Branch laptop');
    expect(screen.getByTestId('period-up-to-date')).toBeTruthy();
    expect(screen.getByTestId('period-closed-until').textContent).toContain('closed up to 30 Nov 2026');
    expect(screen.getByTestId('period-history-row').textContent).toContain('Branch laptop');
  });

  it('says every desk has synced, and offline says why and changes nothing', async () => {
    vi.mocked(api.periodLock).mockResolvedValue(periodScreen());
    vi.mocked(api.previewClose).mockResolvedValueOnce(closing());
    render(PeriodClose, { user: manager, navigate: vi.fn() });
    await flush();
    await fireEvent.click(screen.getByTestId('period-check'));
    await flush();
    expect(screen.getByTestId('period-desks-ok').textContent).toContain('Every desk has synced since 30 Nov 2026 ended');
    vi.mocked(api.closePeriod).mockRejectedValue(
      clinicError('UNREACHABLE', 'Closing a period is done online, and the server cannot be reached: connection refused'),
    );
    await fireEvent.click(screen.getByTestId('period-close'));
    await fireEvent.click(screen.getByTestId('period-close-confirm'));
    await flush();
    const err = screen.getByTestId('period-error');
    expect(err.dataset.code).toBe('UNREACHABLE');
    expect(err.textContent).toContain('Closing a period is done online');
    expect(err.textContent).toContain('Nothing was changed');
    expect(screen.getByTestId('period-closed-until').textContent).toContain('No period has been closed yet');
    expect(api.periodLock).toHaveBeenCalledTimes(1);
  });

  it('offers closing only to a manager', async () => {
    vi.mocked(api.periodLock).mockResolvedValue(periodScreen({ frame: { ...frame, can_close_period: false } }));
    render(PeriodClose, { user: { ...manager, is_admin: false }, navigate: vi.fn() });
    await flush();
    expect(screen.queryByTestId('period-check')).toBeNull();
    expect(screen.queryByTestId('billing-tab-period-close')).toBeNull();
  });
});

describe('Invoices and the patient account', () => {
  beforeEach(() => vi.resetAllMocks());

  it('shows a manager what is owed by age', async () => {
    const home: BillingHome = {
      invoices: [], money: GBP, owed: '300.00', credit: '0.00', prices: [], can_close_period: true,
      ageing: { on: TODAY, currency: 'GBP', total: '300.00', buckets: [
        { label: '0–30 days', owed: '100.00', invoices: 2 }, { label: '31–60 days', owed: '50.00', invoices: 1 },
        { label: '61–90 days', owed: '0.00', invoices: 0 }, { label: 'over 90 days', owed: '150.00', invoices: 1 },
      ] },
    };
    vi.mocked(api.billingHome).mockResolvedValue(home);
    render(Invoices, { user: manager, navigate: vi.fn() });
    await flush();
    const buckets = screen.getAllByTestId('ageing-bucket');
    expect(buckets.map((b) => b.dataset.owed)).toEqual(['100.00', '50.00', '0.00', '150.00']);
    expect(screen.getByTestId('ageing').textContent).toContain('over 90 days');
    expect(screen.getByTestId('ageing').textContent).toContain('£300.00');
  });

  it('shows an overdue instalment on the patient’s summary', async () => {
    const acc: PatientAccount = {
      account: { patient_id: 'p1', patient_name: 'Zoë', patient_number: 'P1', currency: 'GBP', owed: '16.00', credit: '0.00', open_invoices: 1 },
      money: GBP, invoices: [], billable: [], today: TODAY,
      overdue_plans: [plan('0.00', '16.00', [1, 2], '2026-10-08')],
    };
    vi.mocked(api.patientAccount).mockResolvedValue(acc);
    render(PatientAccountPanel, { patientId: 'p1', patientName: 'Zoë', user: manager, navigate: vi.fn() });
    await flush();
    const line = screen.getByTestId('account-overdue');
    expect(line.textContent?.replace(/\s+/g, ' ')).toContain('Instalment overdue: £16.00 on INV-000042');
    expect(line.textContent).toContain('due 8 Oct 2026');
  });
});
