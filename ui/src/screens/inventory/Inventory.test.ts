import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../../lib/api';
import type {
  Alert,
  AlertsScreen,
  DispensePlan,
  Dispensed,
  ItemDetail,
  ItemRow,
  LotView,
  MovementView,
  OrderScreen,
  RxToFill,
  StockFrame,
  StockItemScreen,
  StockScreen,
  StocktakeScreen,
} from '../../lib/bindings';
import { dateAsTyped, daysBetween, formatDateIn, parseDateIn } from '../../lib/format';
import { expiryText, units } from '../../lib/stock';
import { clinicError, flush } from '../../test/helpers';
import { user } from '../../test/fixtures';
import StockList from './StockList.svelte';
import DispenseDialog from './DispenseDialog.svelte';
import OrderDetail from './OrderDetail.svelte';
import Alerts from './Alerts.svelte';
import StocktakeSheet from './StocktakeSheet.svelte';
import StockItem from './StockItem.svelte';
import DateField from '../../components/DateField.svelte';

vi.mock('../../lib/api', async (orig) => (await import('../../test/helpers')).mockApi(await orig()));

const frame: StockFrame = { money: { currency: 'GBP', locale: 'en-GB', digits: 2 }, today: '2026-12-08', expiring_days: 90 };
const pharmacist = { ...user, can_book: false, can_view_stock: true, can_dispense: true, can_manage_stock: true, can_cancel_orders: true };
const manager = { ...pharmacist, can_book: true, can_bill: true, can_take_payment: true, can_approve_orders: true };

function row(over: Partial<ItemRow> = {}): ItemRow {
  return {
    id: 'i1', sku: 'AMOX500', name: 'Amoxicillin 500 mg capsules', unit: 'capsule', category: 'Antibiotics', on_hand: 24,
    reorder_point: 25, low: true, next_expiry: '2027-01-07', prescription_required: true, discontinued: false, ...over,
  };
}

function stockScreen(items: ItemRow[] = [row(), row({ id: 'i2', sku: 'PARA500', name: 'Paracetamol 500 mg', low: false, on_hand: 80, reorder_point: 20, next_expiry: null, prescription_required: false })]): StockScreen {
  return {
    frame, site_id: 's1', sites: [{ id: 's1', name: 'Main site' }, { id: 's2', name: 'Riverside' }], items,
    valuation: { site_id: 's1', site_name: 'Main site', method: 'Lot cost', currency: 'GBP', total: '12.40', lots: 2, items: 1 },
  };
}

function lot(over: Partial<LotView> = {}): LotView {
  return { batch_id: 'bA', lot: 'LOT-A', expiry: '2027-01-07', unit_cost: '0.12', site_id: 's1', site_name: 'Main site', quantity: 4, expired: false, ...over };
}

function move(over: Partial<MovementView> = {}): MovementView {
  return {
    id: 'm1', kind: 'dispense', label: 'Dispensed', lot: 'LOT-A', site_id: 's1', site_name: 'Main site', quantity: -6, unit_cost: '0.12',
    on: '2026-12-08', at: '2026-12-08T10:00:00Z', by_name: 'Pat Pharmacist', reason: null, patient_id: 'p1', prescription_id: 'rx1',
    invoice_id: null, purchase_order_id: null, override_reason: null, patient_name: 'Ada Lovelace', prescription_number: 'RX-ABCD-12345678',
    invoice_number: null, purchase_order_number: null, ...over,
  };
}

function detail(): ItemDetail {
  return {
    item: {
      id: 'i1', tenant_id: 't', sku: 'AMOX500', barcode: '5012345678900', name: 'Amoxicillin 500 mg capsules', generic_name: 'Amoxicillin',
      brand_name: null, manufacturer: null, category_id: null, unit: 'capsule', pack_size: 1, purchase_price: '0.12', sale_price: '0.30',
      tax_rate: '0', min_stock: 0, max_stock: null, reorder_point: 25, track_batches: true, track_expiry: true, prescription_required: true,
      storage: null, discontinued: false, updated_at: '2026-12-01T00:00:00Z',
    },
    category: 'Antibiotics',
    sites: [{ site_id: 's1', site_name: 'Main site', on_hand: 24, low: true }],
    lots: [lot(), lot({ batch_id: 'bB', lot: 'LOT-B', expiry: '2027-10-01', quantity: 20, unit_cost: '0.11' })],
    movements: [move()],
  };
}

const itemScreen = (): StockItemScreen => ({ frame, detail: detail() });

function plan(): DispensePlan {
  return {
    item_id: 'i1', sku: 'AMOX500', name: 'Amoxicillin 500 mg capsules', unit: 'capsule', site_id: 's1', site_name: 'Main site', quantity: 6,
    batches: [{ movement_id: '00000000-0000-0000-0000-000000000000', batch_id: 'bA', lot: 'LOT-A', expiry: '2027-01-07', quantity: 6 }],
    on_hand: 30, prescription_required: true,
  };
}

function dispensed(): Dispensed {
  return {
    item_id: 'i1', sku: 'AMOX500', name: 'Amoxicillin 500 mg capsules', site_id: 's1', site_name: 'Main site', quantity: 6,
    batches: [{ movement_id: 'm9', batch_id: 'bA', lot: 'LOT-A', expiry: '2027-01-07', quantity: 6 }],
    patient_id: 'p1', prescription_id: 'rx1', invoice_id: null, invoice_line: null, on_hand_after: 24,
  };
}

const rx: RxToFill = {
  id: 'rx1', number: 'RX-ABCD-12345678', issued_at: '2026-12-08T09:00:00Z', expires_on: '2027-01-07', prescriber_name: 'Dr Grey',
  lines: [{ index: 0, dispensed: 0, line: { drug: 'Amoxicillin', substance: 'amoxicillin', strength: '500 mg', form: 'capsules', dose: '1 capsule', route: 'oral', frequency: 'three times a day', days: 7, quantity: '21', refills: 0 } }],
};

describe('dates and expiry in the site locale', () => {
  it('writes dates the way the site writes them', () => {
    expect(formatDateIn('2027-01-07', 'en-GB')).toBe('7 Jan 2027');
    expect(formatDateIn('2027-01-07', 'en-US')).toBe('Jan 7, 2027');
    expect(formatDateIn('2027-01-07', 'de-DE')).toBe('07.01.2027');
    expect(formatDateIn('2027-01-07', 'fr-FR')).toBe('07/01/2027');
    expect(daysBetween('2026-12-08', '2027-01-07')).toBe(30);
    expect(expiryText('2027-01-07', frame)).toBe('7 Jan 2027 (in 30 days)');
    expect(expiryText('2026-12-01', frame)).toBe('1 Dec 2026 (expired)');
    expect(expiryText('2027-10-01', frame)).toBe('1 Oct 2027');
  });

  it('reads dates as the site types them, never in the browser’s order', () => {
    expect(parseDateIn('04/01/2027', 'en-GB')).toBe('2027-01-04');
    expect(parseDateIn('04/01/2027', 'en-US')).toBe('2027-04-01');
    expect(parseDateIn('4.1.27', 'de-DE')).toBe('2027-01-04');
    expect(parseDateIn('2027-01-04', 'en-US')).toBe('2027-01-04');
    expect(parseDateIn('02/2027', 'en-GB')).toBe('2027-02-28');
    expect(parseDateIn('4 Jan 2027', 'en-GB')).toBe('2027-01-04');
    expect(parseDateIn('Jan 4, 2027', 'en-US')).toBe('2027-01-04');
    expect(parseDateIn('31/02/2027', 'en-GB')).toBeNull();
    expect(parseDateIn('soon', 'en-GB')).toBeNull();
    expect(dateAsTyped('2027-01-04', 'en-GB')).toBe('04/01/2027');
    expect(units(24, 'capsule')).toBe('24 capsules');
    expect(units(1, 'capsule')).toBe('1 capsule');
    expect(units(2, 'box')).toBe('2 boxes');
    expect(units(30, 'ml')).toBe('30 ml');
  });

  it('shows the day a typed date was read as', async () => {
    render(DateField, { id: 'd', label: 'Expiry', locale: 'en-GB', testid: 'd' });
    const input = screen.getByTestId('d') as HTMLInputElement;
    expect(input.placeholder).toBe('DD/MM/YYYY');
    await fireEvent.input(input, { target: { value: '04/01/2027' } });
    expect(input.dataset.value).toBe('2027-01-04');
    expect(input.parentElement?.textContent).toContain('4 Jan 2027');
    await fireEvent.input(input, { target: { value: '13/13/2027' } });
    expect(input.dataset.value).toBe('');
    expect(input.parentElement?.textContent).toContain('Not a date (DD/MM/YYYY)');
  });
});

describe('StockList', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    localStorage.clear();
  });

  it('lists the site with low badges and UK dates, and opens a scanned code on Enter', async () => {
    vi.mocked(api.stockList).mockResolvedValue(stockScreen());
    vi.mocked(api.stockItem).mockResolvedValue(itemScreen());
    const navigate = vi.fn();
    render(StockList, { route: { name: 'stock' }, user: pharmacist, navigate });
    await flush();
    expect(screen.getAllByTestId('stock-row')).toHaveLength(2);
    expect(screen.getAllByTestId('low-badge')).toHaveLength(1);
    expect(screen.getAllByTestId('stock-next-expiry')[0].textContent).toBe('7 Jan 2027 (in 30 days)');
    expect(screen.getByTestId('stock-value').textContent).toContain('£12.40');
    const search = screen.getByTestId('stock-search') as HTMLInputElement;
    expect(document.activeElement).toBe(search);
    // A scanner types the barcode and Enter.
    await fireEvent.input(search, { target: { value: '5012345678900' } });
    await fireEvent.keyDown(search, { key: 'Enter' });
    await flush();
    expect(api.stockItem).toHaveBeenCalledWith('5012345678900');
    expect(navigate).toHaveBeenCalledWith({ name: 'stock-item', code: 'i1' });
  });

  it('opens the dispense dialog on a scan when Enter is set to dispense, and says when no item has the code', async () => {
    vi.mocked(api.stockList).mockResolvedValue(stockScreen());
    vi.mocked(api.stockItem).mockResolvedValue(itemScreen());
    vi.mocked(api.dispensePlan).mockResolvedValue(plan());
    render(StockList, { route: { name: 'stock' }, user: pharmacist, navigate: vi.fn() });
    await flush();
    await fireEvent.click(screen.getByTestId('enter-opens-dispense'));
    const search = screen.getByTestId('stock-search');
    await fireEvent.input(search, { target: { value: 'amox500' } });
    await fireEvent.keyDown(search, { key: 'Enter' });
    await flush();
    expect(screen.getByTestId('dispense-dialog')).toBeTruthy();
    expect(screen.getByTestId('dispense-item-name').textContent).toContain('Amoxicillin');
    await fireEvent.click(screen.getByTestId('dispense-close'));

    vi.mocked(api.stockItem).mockRejectedValue(clinicError('NOT_FOUND', 'No stock item has the SKU or barcode 999.'));
    vi.mocked(api.stockList).mockResolvedValue(stockScreen([]));
    await fireEvent.input(search, { target: { value: '999' } });
    await fireEvent.keyDown(search, { key: 'Enter' });
    await flush();
    expect(screen.getByTestId('stock-notice').textContent).toContain('No item has the SKU or barcode “999”');
  });
});

describe('DispenseDialog', () => {
  beforeEach(() => vi.resetAllMocks());

  it('shows the lots first expiry first, asks for a reason when the rules need one, and shows the lots used', async () => {
    vi.mocked(api.stockItem).mockResolvedValue(itemScreen());
    vi.mocked(api.dispensePlan).mockResolvedValue(plan());
    vi.mocked(api.dispenseStock)
      .mockRejectedValueOnce(clinicError('CONFIRMATION_NEEDED', 'AMOX500 is prescription-only: dispense it against a prescription, or with an override and a reason.'))
      .mockResolvedValueOnce({ ...dispensed(), prescription_id: null, patient_id: null });
    const onDone = vi.fn();
    render(DispenseDialog, { initialItem: 'AMOX500', siteId: 's1', siteName: 'Main site', frame, user: pharmacist, onClose: vi.fn(), onDone });
    await flush();
    const qty = screen.getByTestId('dispense-qty');
    expect(document.activeElement).toBe(qty);
    await fireEvent.input(qty, { target: { value: '6' } });
    await new Promise((r) => setTimeout(r, 200));
    await flush();
    expect(screen.getAllByTestId('plan-lot').map((e) => e.dataset.lot)).toEqual(['LOT-A']);
    expect(screen.getByTestId('dispense-rx-needed')).toBeTruthy();
    await fireEvent.keyDown(qty, { key: 'Enter' });
    await flush();
    expect(screen.getByTestId('dispense-error').textContent).toContain('prescription-only');
    const reason = screen.getByTestId('dispense-reason');
    expect(document.activeElement).toBe(reason);
    await fireEvent.input(reason, { target: { value: 'Emergency supply, prescription to follow' } });
    await fireEvent.keyDown(reason, { key: 'Enter' });
    await flush();
    expect(api.dispenseStock).toHaveBeenLastCalledWith(expect.objectContaining({
      item: 'i1', quantity: 6, lot: null, site_id: 's1', override_reason: 'Emergency supply, prescription to follow',
    }));
    expect(screen.getByTestId('dispense-result').textContent).toContain('Dispensed 6 capsules');
    expect(screen.getAllByTestId('dispensed-lot').map((e) => e.dataset.lot)).toEqual(['LOT-A']);
    expect(onDone).toHaveBeenCalledTimes(1);
  });

  it('dispenses against the patient’s prescription that names the item', async () => {
    vi.mocked(api.stockItem).mockResolvedValue(itemScreen());
    vi.mocked(api.dispensePlan).mockResolvedValue(plan());
    vi.mocked(api.searchPatients).mockResolvedValue([{ id: 'p1', patient_number: 'P1', first_name: 'Ada', last_name: 'Lovelace', preferred_name: null, date_of_birth: null, phone: null, score: 1 }]);
    vi.mocked(api.prescriptionsToFill).mockResolvedValue([rx]);
    vi.mocked(api.dispenseStock).mockResolvedValue(dispensed());
    render(DispenseDialog, { initialItem: 'AMOX500', siteId: 's1', siteName: 'Main site', frame, user: pharmacist, onClose: vi.fn(), onDone: vi.fn() });
    await flush();
    await fireEvent.input(screen.getByTestId('dispense-qty'), { target: { value: '6' } });
    const search = screen.getByTestId('dispense-patient');
    await fireEvent.input(search, { target: { value: 'Lovelace' } });
    await new Promise((r) => setTimeout(r, 200));
    await flush();
    await fireEvent.keyDown(search, { key: 'Enter' });
    await flush();
    expect(screen.getByTestId('dispense-patient-chosen').textContent).toContain('Ada Lovelace');
    expect((screen.getByTestId('dispense-rx') as HTMLSelectElement).value).toBe('rx1');
    expect(api.patientAccount).not.toHaveBeenCalled();
    expect(screen.queryByTestId('dispense-invoice')).toBeNull();
    await fireEvent.click(screen.getByTestId('dispense-submit'));
    await flush();
    expect(api.dispenseStock).toHaveBeenCalledWith(expect.objectContaining({ patient_id: 'p1', prescription_id: 'rx1', override_reason: null }));
    expect(screen.getByTestId('dispense-result').textContent).toContain('RX-ABCD-12345678');
  });
});

function orderScreen(status: 'pending' | 'approved' = 'approved'): OrderScreen {
  return {
    frame,
    order: {
      total: '3.60', outstanding: 30, site_name: 'Main site',
      order: {
        id: 'po1', tenant_id: 't', number: 'PO-000001', supplier_id: 'sup', supplier_name: 'MedSupply Ltd', site_id: 's1',
        lines: [{ item_id: 'i1', sku: 'AMOX500', name: 'Amoxicillin 500 mg capsules', quantity: 30, unit_cost: '0.12', received: 0 }],
        status, expected_on: null, notes: '', created_by: 'u', created_at: '2026-12-08T09:00:00Z', approved_by: null, approved_at: null,
        sent_at: null, cancel_reason: null, updated_at: '2026-12-08T09:00:00Z',
      },
    },
  };
}

describe('OrderDetail', () => {
  beforeEach(() => vi.resetAllMocks());

  it('hides approval from a pharmacist and shows it to a manager', async () => {
    vi.mocked(api.purchaseOrder).mockResolvedValue(orderScreen('pending'));
    render(OrderDetail, { route: { name: 'order', orderId: 'po1' }, user: pharmacist, navigate: vi.fn() });
    await flush();
    expect(screen.queryByTestId('order-approve')).toBeNull();
    expect(screen.getByTestId('order-awaits-approval')).toBeTruthy();
    expect(screen.queryByTestId('receive-form')).toBeNull();
  });

  it('receives one line into two lots', async () => {
    vi.mocked(api.purchaseOrder).mockResolvedValue(orderScreen());
    vi.mocked(api.receiveOrder).mockResolvedValue(orderScreen());
    const onChanged = vi.fn();
    render(OrderDetail, { route: { name: 'order', orderId: 'po1' }, user: manager, navigate: vi.fn(), onChanged });
    await flush();
    expect((screen.getByTestId('receive-row-qty') as HTMLInputElement).value).toBe('30');
    await fireEvent.click(screen.getByTestId('receive-split'));
    const qty = screen.getAllByTestId('receive-row-qty');
    const lots = screen.getAllByTestId('receive-row-lot');
    const exp = screen.getAllByTestId('receive-row-expiry');
    await fireEvent.input(qty[0], { target: { value: '10' } });
    await fireEvent.input(lots[0], { target: { value: 'LOT-A' } });
    await fireEvent.input(exp[0], { target: { value: '2027-01-07' } });
    await fireEvent.input(qty[1], { target: { value: '20' } });
    await fireEvent.input(lots[1], { target: { value: 'LOT-B' } });
    await fireEvent.input(exp[1], { target: { value: '2027-10-01' } });
    await fireEvent.click(screen.getByTestId('receive-order-submit'));
    await flush();
    expect(api.receiveOrder).toHaveBeenCalledWith('po1', [
      { item: 'AMOX500', quantity: 10, lot: 'LOT-A', expiry: '2027-01-07', cost: null },
      { item: 'AMOX500', quantity: 20, lot: 'LOT-B', expiry: '2027-10-01', cost: null },
    ]);
    expect(screen.getByTestId('order-notice').textContent).toBe('Received 30 units into 2 lots.');
    expect(onChanged).toHaveBeenCalled();
  });
});

function alert(over: Partial<Alert>): Alert {
  return {
    kind: 'low', item_id: 'i1', sku: 'AMOX500', name: 'Amoxicillin 500 mg capsules', unit: 'capsule', site_id: 's1', site_name: 'Main site', batch_id: null,
    lot: null, expiry: null, quantity: 24, reorder_point: 25, message: '', caused_by: [], proposal: null, ...over,
  };
}

describe('Alerts', () => {
  beforeEach(() => vi.resetAllMocks());

  it('groups by kind with counts that add up, applies a proposed reallocation and writes off an expired lot', async () => {
    const alerts: AlertsScreen = {
      frame,
      counts: { negative: 1, expired: 1, expiring: 1, low: 1, total: 4 },
      alerts: [
        alert({ kind: 'negative', batch_id: 'bA', lot: 'LOT-A', quantity: -2, reorder_point: null,
          caused_by: [move({ id: 'c1', quantity: -3 }), move({ id: 'c2', quantity: -3, by_name: 'Desk two' })],
          proposal: { site_id: 's1', from_batch: 'bB', from_lot: 'LOT-B', to_batch: 'bA', to_lot: 'LOT-A', quantity: 2 } }),
        alert({ kind: 'expired', batch_id: 'bC', lot: 'LOT-C', expiry: '2026-12-01', quantity: 5, reorder_point: null }),
        alert({ kind: 'expiring', batch_id: 'bA', lot: 'LOT-A', expiry: '2027-01-07', quantity: 4, reorder_point: null }),
        alert({}),
      ],
    };
    vi.mocked(api.stockAlerts).mockResolvedValue(alerts);
    vi.mocked(api.reallocateStock).mockResolvedValue([]);
    vi.mocked(api.adjustStock).mockResolvedValue(move({ kind: 'expiry_write_off', label: 'Written off (expired)', quantity: -5, lot: 'LOT-C' }));
    const onChanged = vi.fn();
    render(Alerts, { route: { name: 'stock-alerts' }, user: manager, navigate: vi.fn(), onChanged });
    await flush();
    const byKind = ['negative', 'expired', 'expiring', 'low'].map((k) => Number(screen.getByTestId(`alert-count-${k}`).textContent));
    expect(byKind.reduce((a, b) => a + b, 0)).toBe(Number(screen.getByTestId('stock-tab-alert-count').textContent));
    expect(screen.getAllByTestId('alert-cause')).toHaveLength(2);
    expect(screen.getByTestId('alert-expiry').textContent).toBe('7 Jan 2027 (in 30 days)');
    await fireEvent.click(screen.getByTestId('realloc-apply'));
    await fireEvent.click(screen.getByTestId('realloc-confirm'));
    await flush();
    expect(api.reallocateStock).toHaveBeenCalledWith({
      item: 'i1', from_lot: 'LOT-B', to_lot: 'LOT-A', quantity: 2, site_id: 's1',
      reason: 'Given out from lot LOT-B, recorded against lot LOT-A',
    });
    await fireEvent.click(screen.getByTestId('alert-write-off'));
    await flush();
    expect(api.adjustStock).toHaveBeenCalledWith({ item: 'i1', lot: 'LOT-C', quantity: null, reason: 'Expired', write_off: true, site_id: 's1' });
    expect(screen.getByTestId('alerts-notice').textContent).toContain('Wrote off 5 of AMOX500 lot LOT-C');
    expect(onChanged).toHaveBeenCalledTimes(2);
  });

  it('says plainly when nothing needs attention', async () => {
    vi.mocked(api.stockAlerts).mockResolvedValue({ frame, alerts: [], counts: { negative: 0, expired: 0, expiring: 0, low: 0, total: 0 } });
    render(Alerts, { route: { name: 'stock-alerts' }, user: pharmacist, navigate: vi.fn() });
    await flush();
    expect(screen.getByTestId('alerts-empty').textContent).toContain('Nothing needs attention');
  });
});

describe('StocktakeSheet', () => {
  beforeEach(() => vi.resetAllMocks());

  it('saves a count on Enter, moves to the next lot, and posts after a confirmation', async () => {
    const sheet = (counted: number | null): StocktakeScreen => ({
      frame,
      sheet: {
        site_name: 'Main site', category: null, counted: counted === null ? 0 : 1,
        stocktake: { id: 'st1', tenant_id: 't', site_id: 's1', category_id: null, status: 'counting', counts: [], started_by: 'u',
          started_at: '2026-12-08T08:00:00Z', posted_by: null, posted_at: null, corrections: [] },
        lines: [
          { item_id: 'i1', sku: 'AMOX500', name: 'Amoxicillin', batch_id: 'bA', lot: 'LOT-A', expiry: '2027-01-07', on_hand: 4,
            counted, shown: counted === null ? null : 4, variance: counted === null ? null : counted - 4 },
          { item_id: 'i1', sku: 'AMOX500', name: 'Amoxicillin', batch_id: 'bB', lot: 'LOT-B', expiry: '2027-10-01', on_hand: 20,
            counted: null, shown: null, variance: null },
        ],
      },
    });
    vi.mocked(api.stocktake).mockResolvedValue(sheet(null));
    vi.mocked(api.countStock).mockResolvedValue(sheet(3));
    vi.mocked(api.postStocktake).mockResolvedValue(sheet(3));
    render(StocktakeSheet, { route: { name: 'stocktake', stocktakeId: 'st1' }, user: pharmacist, navigate: vi.fn() });
    await flush();
    const inputs = screen.getAllByTestId('count-input');
    expect(document.activeElement).toBe(inputs[0]);
    await fireEvent.input(inputs[0], { target: { value: '3' } });
    await fireEvent.keyDown(inputs[0], { key: 'Enter' });
    await flush();
    expect(api.countStock).toHaveBeenCalledWith('st1', 'AMOX500', 'LOT-A', 3);
    expect(document.activeElement).toBe(screen.getAllByTestId('count-input')[1]);
    expect(screen.getAllByTestId('count-line')[0].dataset.variance).toBe('-1');
    await fireEvent.click(screen.getByTestId('stocktake-post'));
    expect(screen.getByTestId('stocktake-confirm-text').textContent?.replace(/\s+/g, ' ')).toContain('Post 1 correction (net −1 units)');
    expect(api.postStocktake).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId('stocktake-post-confirm'));
    await flush();
    expect(api.postStocktake).toHaveBeenCalledWith('st1');
  });
});

describe('StockItem', () => {
  beforeEach(() => vi.resetAllMocks());

  it('shows lots, totals and the ledger, and D opens the dispense dialog', async () => {
    vi.mocked(api.stockItem).mockResolvedValue(itemScreen());
    vi.mocked(api.dispensePlan).mockResolvedValue(plan());
    render(StockItem, { route: { name: 'stock-item', code: 'i1' }, user: pharmacist, navigate: vi.fn() });
    await flush();
    expect(screen.getAllByTestId('item-lot').map((e) => e.dataset.lot)).toEqual(['LOT-A', 'LOT-B']);
    expect(screen.getByTestId('item-lots').textContent).toContain('£0.12');
    const ledger = screen.getAllByTestId('ledger-row')[0].textContent ?? '';
    expect(ledger).toContain('8 Dec 2026');
    expect(ledger).toContain('−6');
    expect(ledger).toContain('Pat Pharmacist');
    expect(ledger).toContain('prescription RX-ABCD-12345678');
    expect(ledger).toContain('Ada Lovelace');
    await fireEvent.keyDown(window, { key: 'd' });
    await flush();
    expect(screen.getByTestId('dispense-dialog')).toBeTruthy();
  });
});
