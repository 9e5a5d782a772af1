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
    expect(screen.getByTestId('today-counts').textContent).toBe('2 expected · 1 waiting · 3 in all');
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

  it('checks a patient in and reloads; a refusal is shown on that row and nothing else changes', async () => {
    vi.mocked(api.calendar).mockResolvedValue(todayView());
    vi.mocked(api.setAppointmentStatus).mockResolvedValueOnce(appt({ id: 'early', status: 'arrived' }));
    render(TodayList, { user, navigate: vi.fn() });
    await flush();
    await fireEvent.click(screen.getAllByTestId('today-checkin')[0]);
    await flush();
    expect(api.setAppointmentStatus).toHaveBeenCalledWith('early', 'arrived', null);
    expect(api.calendar).toHaveBeenCalledTimes(2);

    vi.mocked(api.setAppointmentStatus).mockRejectedValueOnce(clinicError('CONFLICT', 'This appointment was cancelled at another desk.'));
    await fireEvent.click(screen.getAllByTestId('today-checkin')[1]);
    await flush();
    const late = screen.getAllByTestId('today-row').find((r) => r.getAttribute('data-appointment-id') === 'late')!;
    expect(late.textContent).toContain('cancelled at another desk');
    expect(api.calendar).toHaveBeenCalledTimes(2);
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
