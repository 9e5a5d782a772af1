import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../lib/api';
import { appt, calendarView, user } from '../test/fixtures';
import { clinicError, flush } from '../test/helpers';
import { browserToday, addDays } from '../lib/format';
import TodayList from './TodayList.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));

const today = browserToday();
const day = (t: string) => `${today}T${t}:00`;

function todayView(appointments = [
  appt({ id: 'late', patient_name: 'Zoe Late', start_local: day('11:00'), end_local: day('11:30') }),
  appt({ id: 'early', patient_name: 'Adam Early', patient_id: 'p2', start_local: day('09:00'), end_local: day('09:15') }),
  appt({ id: 'here', patient_name: 'Hana Here', start_local: day('10:00'), end_local: day('10:15'), status: 'arrived', next_statuses: ['in_progress', 'no_show'] }),
  appt({ id: 'gone', patient_name: 'Cy Cancelled', start_local: day('09:30'), end_local: day('09:45'), status: 'cancelled', next_statuses: [] }),
]) {
  return calendarView({ today, appointments });
}

describe('TodayList', () => {
  beforeEach(() => vi.resetAllMocks());

  it("lists today's patients in time order, without cancelled bookings, with counts", async () => {
    vi.mocked(api.calendar).mockResolvedValue(todayView());
    render(TodayList, { user, navigate: vi.fn() });
    await flush();
    expect(api.calendar).toHaveBeenCalledWith(today, addDays(today, 1));
    expect(screen.getByTestId('today-list').getAttribute('data-ready')).toBe('true');
    const rows = screen.getAllByTestId('today-row').map((r) => r.getAttribute('data-appointment-id'));
    expect(rows).toEqual(['early', 'here', 'late']);
    // The counts are on the filters.
    expect(screen.getByTestId('today-filter-expected').textContent).toBe('Expected 2');
    expect(screen.getByTestId('today-filter-waiting').textContent).toBe('Waiting 1');
    expect(screen.getByTestId('today-filter-all').textContent).toBe('All 3');
    // Only bookings that may be checked in offer it.
    expect(screen.getAllByTestId('today-checkin')).toHaveLength(2);
  });

  it("asks again for the site's day when it differs from the computer's", async () => {
    const siteDay = addDays(today, 1);
    vi.mocked(api.calendar)
      .mockResolvedValueOnce(calendarView({ today: siteDay, appointments: [] }))
      .mockResolvedValueOnce(calendarView({ today: siteDay, appointments: [] }));
    render(TodayList, { user, navigate: vi.fn() });
    await flush();
    expect(api.calendar).toHaveBeenLastCalledWith(siteDay, addDays(siteDay, 1));
    expect(screen.getByTestId('today-empty').textContent).toContain('No appointments today at Main St');
  });

  it('shows a check-in at once as saving, keeps the row in place, and puts it back with the reason if refused', async () => {
    vi.mocked(api.calendar).mockResolvedValue(todayView());
    let commit: (a: ReturnType<typeof appt>) => void = () => {};
    vi.mocked(api.setAppointmentStatus).mockReturnValueOnce(new Promise((r) => (commit = r)));
    render(TodayList, { user, navigate: vi.fn() });
    await flush();
    const order = () => screen.getAllByTestId('today-row').map((r) => r.getAttribute('data-appointment-id'));
    await fireEvent.click(screen.getAllByTestId('today-checkin')[0]);
    // Before the store answers: arrived, saving, same place.
    const early = () => screen.getAllByTestId('today-row').find((r) => r.getAttribute('data-appointment-id') === 'early')!;
    expect(early().getAttribute('data-status')).toBe('arrived');
    expect(early().getAttribute('data-saving')).toBe('true');
    expect(order()).toEqual(['early', 'here', 'late']);
    commit(appt({ id: 'early', patient_name: 'Adam Early', patient_id: 'p2', start_local: day('09:00'), end_local: day('09:15'), status: 'arrived', next_statuses: ['in_progress', 'scheduled'] }));
    await flush();
    expect(api.setAppointmentStatus).toHaveBeenCalledWith('early', 'arrived', null);
    expect(early().getAttribute('data-saving')).toBe('false');
    expect(early().getAttribute('data-status')).toBe('arrived');
    expect(order()).toEqual(['early', 'here', 'late']);

    vi.mocked(api.setAppointmentStatus).mockRejectedValueOnce(clinicError('CONFLICT', 'This appointment was cancelled at another desk.'));
    await fireEvent.click(screen.getAllByTestId('today-checkin')[0]);
    await flush();
    const late = screen.getAllByTestId('today-row').find((r) => r.getAttribute('data-appointment-id') === 'late')!;
    expect(late.getAttribute('data-status')).toBe('scheduled');
    expect(screen.getByTestId('today-row-error').textContent).toContain('cancelled at another desk');
    expect(api.calendar).toHaveBeenCalledTimes(1);
  });

  it('undoes a check-in as a change of its own, with the reason recorded', async () => {
    vi.mocked(api.calendar).mockResolvedValue(todayView());
    vi.mocked(api.setAppointmentStatus).mockResolvedValueOnce(appt({ id: 'here', status: 'scheduled', start_local: day('10:00'), end_local: day('10:15') }));
    render(TodayList, { user, navigate: vi.fn() });
    await flush();
    await fireEvent.click(screen.getByTestId('today-undo-checkin'));
    await flush();
    expect(api.setAppointmentStatus).toHaveBeenCalledWith('here', 'scheduled', 'Check-in undone at the desk');
    expect(screen.queryByTestId('today-undo-checkin')).toBeNull();
  });

  it('filters by waiting, expected and done, and by clinician', async () => {
    vi.mocked(api.calendar).mockResolvedValue(todayView([
      appt({ id: 'w', patient_name: 'Wendy Wait', start_local: day('09:00'), end_local: day('09:15'), status: 'arrived' }),
      appt({ id: 'e', patient_name: 'Eve Expect', start_local: day('10:00'), end_local: day('10:15'), clinician_id: 'c2', clinician_name: 'Dr Bell' }),
      appt({ id: 'd', patient_name: 'Don Done', start_local: day('08:00'), end_local: day('08:15'), status: 'completed', next_statuses: [] }),
    ]));
    render(TodayList, { user, navigate: vi.fn() });
    await flush();
    const ids = () => screen.queryAllByTestId('today-row').map((r) => r.getAttribute('data-appointment-id'));
    expect(ids()).toEqual(['w', 'e']); // still to see: the completed one is out of the way
    await fireEvent.click(screen.getByTestId('today-filter-waiting'));
    expect(ids()).toEqual(['w']);
    await fireEvent.click(screen.getByTestId('today-filter-done'));
    expect(ids()).toEqual(['d']);
    await fireEvent.click(screen.getByTestId('today-filter-all'));
    expect(ids()).toEqual(['d', 'w', 'e']);
    await fireEvent.change(screen.getByTestId('today-clinician'), { target: { value: 'c2' } });
    expect(ids()).toEqual(['e']);
    await fireEvent.click(screen.getByTestId('today-filter-waiting'));
    expect(screen.getByTestId('today-filter-empty').textContent).toBe('Nobody is waiting.');
    // Checked in under "Expected": the row stays in sight until the filter changes.
    vi.mocked(api.setAppointmentStatus).mockResolvedValueOnce(
      appt({ id: 'e', patient_name: 'Eve Expect', start_local: day('10:00'), end_local: day('10:15'), clinician_id: 'c2', clinician_name: 'Dr Bell', status: 'arrived' }),
    );
    await fireEvent.click(screen.getByTestId('today-filter-expected'));
    await fireEvent.click(screen.getByTestId('today-checkin'));
    await flush();
    expect(ids()).toEqual(['e']);
    expect(screen.getAllByTestId('today-row')[0].getAttribute('data-status')).toBe('arrived');
    await fireEvent.click(screen.getByTestId('today-filter-waiting'));
    expect(ids()).toEqual(['e']);
    await fireEvent.change(screen.getByTestId('today-clinician'), { target: { value: '' } });
    await fireEvent.click(screen.getByTestId('today-filter-open'));
  });

  it('opens the patient, and hides check-in from users who may not book', async () => {
    vi.mocked(api.calendar).mockResolvedValue(todayView());
    const navigate = vi.fn();
    render(TodayList, { user: { ...user, can_book: false }, navigate });
    await flush();
    expect(screen.queryByTestId('today-checkin')).toBeNull();
    await fireEvent.click(screen.getAllByTestId('today-patient')[0]);
    expect(navigate).toHaveBeenCalledWith({ name: 'patients', mode: 'summary', patientId: 'p2' });
  });

  it('says so in words when the list cannot be loaded', async () => {
    vi.mocked(api.calendar).mockRejectedValue(clinicError('SESSION_LOCKED', 'Sign in again to continue.'));
    render(TodayList, { user, navigate: vi.fn() });
    await flush();
    expect(screen.getByRole('alert').textContent).toContain('Sign in again to continue.');
  });
});
