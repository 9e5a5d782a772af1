import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import * as api from '../lib/api';
import type { ConflictsView } from '../lib/bindings';
import { appt } from '../test/fixtures';
import { clinicError, flush } from '../test/helpers';
import Conflicts from './Conflicts.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));
const conflicts = vi.mocked(api.conflicts);
const resolve = vi.mocked(api.resolveBooking);
const dismiss = vi.mocked(api.dismissRefused);
const reapply = vi.mocked(api.reapplyRefused);

const empty: ConflictsView = { bookings: [], refused: [] };
const full: ConflictsView = {
  bookings: [
    {
      appointment: appt({ id: 'a1', conflict: 'Overlaps Bob Jones' }),
      reason: 'Booked on another computer at the same time',
      overlaps: [appt({ id: 'a9', patient_name: 'Bob Jones' })],
    },
  ],
  refused: [
    {
      device_seq: 42,
      kind: 'update_patient',
      message: 'Patient was archived on the server',
      made_at: '2025-11-24T09:00:00Z',
      status: 'rejected',
      made_by: 'Sam Reception',
      about: 'Jane Smith (P0000013)',
    },
  ],
};

async function setup(view: ConflictsView = full) {
  conflicts.mockResolvedValue(view);
  const props = { navigate: vi.fn(), onChanged: vi.fn() };
  render(Conflicts, props);
  await flush();
  return props;
}

describe('Conflicts inbox', () => {
  beforeEach(() => vi.resetAllMocks());

  it('lists double bookings with time, patient, clinician, overlap and reason', async () => {
    await setup();
    const row = screen.getByTestId('conflict-row');
    expect(row.getAttribute('data-appointment-id')).toBe('a1');
    expect(row.textContent).toContain('Mon 24 Nov, 09:00–09:15');
    expect(row.textContent).toContain('Jane Smith');
    expect(row.textContent).toContain('Dr Adams');
    expect(row.textContent).toContain('Bob Jones');
    expect(row.textContent).toContain('Booked on another computer at the same time');
    expect(screen.getByTestId('refused-row').textContent).toContain('Patient was archived on the server');
  });

  it('accept resolves straight away', async () => {
    resolve.mockResolvedValue({ bookings: [], refused: full.refused });
    const props = await setup();
    await fireEvent.click(screen.getByTestId('resolve-accept'));
    await flush();
    expect(resolve).toHaveBeenCalledWith({ appointment_id: 'a1', action: 'accept', reason: null, start_local: null });
    expect(screen.queryByTestId('conflict-row')).toBeNull();
    expect(props.onChanged).toHaveBeenCalled();
  });

  it('cancel needs a reason', async () => {
    resolve.mockResolvedValue(empty);
    await setup();
    const row = screen.getByTestId('conflict-row');
    await fireEvent.click(within(row).getByTestId('resolve-cancel'));
    await fireEvent.click(within(row).getByTestId('resolve-confirm'));
    expect(resolve).not.toHaveBeenCalled();
    expect(row.textContent).toContain('Please give a reason for cancelling.');
    await fireEvent.input(within(row).getByTestId('resolve-reason'), { target: { value: 'Duplicate' } });
    await fireEvent.click(within(row).getByTestId('resolve-confirm'));
    await flush();
    expect(resolve).toHaveBeenCalledWith({ appointment_id: 'a1', action: 'cancel', reason: 'Duplicate', start_local: null });
    expect(screen.getByTestId('conflicts-empty')).toBeTruthy();
  });

  it('move sends the new start', async () => {
    resolve.mockResolvedValue(empty);
    await setup();
    await fireEvent.click(screen.getByTestId('resolve-move'));
    // Typed as a UK desk writes it: 25/11/2025 is 25 November.
    await fireEvent.input(screen.getByTestId('resolve-start-date'), { target: { value: '25/11/2025' } });
    await fireEvent.input(screen.getByTestId('resolve-start-time'), { target: { value: '10.00' } });
    await fireEvent.click(screen.getByTestId('resolve-confirm'));
    await flush();
    expect(resolve).toHaveBeenCalledWith({ appointment_id: 'a1', action: 'move', reason: null, start_local: '2025-11-25T10:00:00' });
  });

  it('a refused change says who made it and why, and can be made again as me', async () => {
    reapply.mockResolvedValue({ bookings: full.bookings, refused: [] });
    const props = await setup();
    const row = screen.getByTestId('refused-row');
    expect(row.textContent).toContain('Not allowed');
    expect(row.textContent).toContain('by Sam Reception');
    expect(row.textContent).toContain('update patient: Jane Smith (P0000013)');
    await fireEvent.click(within(row).getByTestId('reapply-refused'));
    await flush();
    expect(reapply).toHaveBeenCalledWith(42);
    expect(props.onChanged).toHaveBeenCalled();
    expect(screen.queryByTestId('refused-row')).toBeNull();
  });

  it('a change that cannot be made again says why and stays listed', async () => {
    reapply.mockRejectedValue(clinicError('FORBIDDEN', 'Your role does not allow you to change patients.'));
    await setup();
    await fireEvent.click(screen.getByTestId('reapply-refused'));
    await flush();
    expect(screen.getByRole('alert').textContent).toContain('Your role does not allow');
    expect(screen.getByTestId('refused-row')).toBeTruthy();
  });

  it('refused changes can be dismissed', async () => {
    dismiss.mockResolvedValue({ bookings: full.bookings, refused: [] });
    await setup();
    await fireEvent.click(screen.getByTestId('dismiss-refused'));
    await flush();
    expect(dismiss).toHaveBeenCalledWith(42);
    expect(screen.queryByTestId('refused-row')).toBeNull();
  });

  it('reloads by itself when sync changes the number waiting', async () => {
    conflicts.mockResolvedValueOnce(empty).mockResolvedValueOnce(full);
    const view = render(Conflicts, { navigate: vi.fn(), onChanged: vi.fn(), waiting: 0 });
    await flush();
    expect(screen.getByTestId('conflicts-empty')).toBeTruthy();
    await view.rerender({ navigate: vi.fn(), onChanged: vi.fn(), waiting: 1 });
    await flush();
    expect(conflicts).toHaveBeenCalledTimes(2);
    expect(screen.getByTestId('conflict-row').getAttribute('data-appointment-id')).toBe('a1');
  });

  it('says so when there is nothing to resolve', async () => {
    await setup(empty);
    expect(screen.getByTestId('conflicts-empty').textContent).toContain('Nothing to resolve');
  });
});
