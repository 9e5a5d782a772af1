import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import * as api from '../lib/api';
import { calendarProbe } from '../test/calendarProbe';
import { appt, calendarView, hit, user } from '../test/fixtures';
import { clinicError, flush } from '../test/helpers';
import CalendarScreen from './CalendarScreen.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));
vi.mock('@event-calendar/core', async () => ({
  Calendar: (await import('../test/CalendarStub.svelte')).default,
  ResourceTimeGrid: {},
  Interaction: {},
}));

const calendar = vi.mocked(api.calendar);
const book = vi.mocked(api.bookAppointment);
const move = vi.mocked(api.moveAppointment);
const setStatus = vi.mocked(api.setAppointmentStatus);
const search = vi.mocked(api.searchPatients);
const findSlots = vi.mocked(api.findSlots);

async function setup(view = calendarView()) {
  calendar.mockResolvedValue(view);
  const props = { user, navigate: vi.fn(), onChanged: vi.fn() };
  render(CalendarScreen, props);
  await flush();
  return props;
}

function opts() {
  if (!calendarProbe.options) throw new Error('calendar not rendered');
  return calendarProbe.options;
}

function resourceIds(): string[] {
  return (opts().resources as { id: string }[]).map((r) => r.id);
}

async function clickSlot(dateStr: string, resourceId: string) {
  opts().dateClick!({ dateStr, date: new Date(), allDay: false, resource: { id: resourceId } } as never);
  await tick();
}

describe('CalendarScreen', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    calendarProbe.options = null;
  });

  it("asks for the site's day and feeds clinicians, working hours and appointments to the calendar", async () => {
    await setup();
    expect(calendar).toHaveBeenLastCalledWith('2025-11-24', '2025-11-25');
    const o = opts();
    expect(o.view).toBe('resourceTimeGridDay');
    expect(o.resources).toEqual([{ id: 'c1', title: 'Dr Adams' }, { id: 'c2', title: 'Dr Brown' }]);
    const events = o.events as { id: string; display?: string; start: string; resourceIds: string[] }[];
    expect(events.find((e) => e.display === 'background')).toMatchObject({ start: '2025-11-24T08:00:00', resourceIds: ['c1'] });
    expect(events.find((e) => e.id === 'a1')).toMatchObject({ start: '2025-11-24T09:00:00', resourceIds: ['c1'] });
  });

  it('marks each appointment element with its id, status and conflict', async () => {
    await setup(calendarView({
      appointments: [appt(), appt({ id: 'a2', status: 'arrived', conflict: 'Overlaps Bob', outside_hours: true })],
    }));
    const a1 = document.querySelector('[data-appointment-id="a1"]')!;
    const a2 = document.querySelector('[data-appointment-id="a2"]')!;
    expect(a1.getAttribute('data-status')).toBe('scheduled');
    expect(a1.classList.contains('conflict')).toBe(false);
    expect(a2.getAttribute('data-status')).toBe('arrived');
    expect(a2.classList.contains('conflict')).toBe(true);
    // Not colour alone: words too.
    expect(a2.textContent).toContain('Double booking');
    expect(a2.textContent).toContain('Outside hours');
  });

  it('day / week / by room / next / previous / today change what is shown', async () => {
    await setup();
    await fireEvent.click(screen.getByTestId('cal-view-week'));
    await flush();
    expect(calendar).toHaveBeenLastCalledWith('2025-11-24', '2025-12-01');
    expect(opts().view).toBe('resourceTimeGridWeek');
    await fireEvent.click(screen.getByTestId('cal-next'));
    await flush();
    expect(calendar).toHaveBeenLastCalledWith('2025-12-01', '2025-12-08');
    await fireEvent.click(screen.getByTestId('cal-view-day'));
    await fireEvent.keyDown(window, { key: 'ArrowLeft' });
    await flush();
    expect(calendar).toHaveBeenLastCalledWith('2025-11-30', '2025-12-01');
    await fireEvent.click(screen.getByTestId('cal-today'));
    await flush();
    expect(calendar).toHaveBeenLastCalledWith('2025-11-24', '2025-11-25');
    await fireEvent.click(screen.getByTestId('cal-by-room'));
    await tick();
    expect(opts().resources).toEqual([{ id: 'r1', title: 'Room 1' }]);
  });

  it('clicking a free slot opens the booking dialog prefilled with clinician and start', async () => {
    await setup();
    expect(screen.queryByTestId('booking-dialog')).toBeNull();
    await clickSlot('2025-11-24T10:30:00', 'c2');
    expect(screen.getByTestId('booking-dialog')).toBeTruthy();
    expect((screen.getByTestId('booking-clinician') as HTMLSelectElement).value).toBe('c2');
    // The day in the site's order, the time on its clock (not the browser's "11/24/2025, 10:30 AM").
    expect(screen.getByTestId('booking-start').getAttribute('data-value')).toBe('2025-11-24T10:30:00');
    expect((screen.getByTestId('booking-start-date') as HTMLInputElement).value).toBe('24/11/2025');
    expect((screen.getByTestId('booking-start-time') as HTMLInputElement).value).toBe('10:30');
    expect((screen.getByTestId('booking-minutes') as HTMLInputElement).value).toBe('15');
  });

  it('a refused booking shows the reason and "Book anyway" resends with override_checks', async () => {
    search.mockResolvedValue([hit()]);
    book.mockRejectedValueOnce(clinicError('CONFLICT', 'Dr Brown already has Bob Jones at 10:30. Next free: 10:45, 11:00.'));
    book.mockResolvedValueOnce(appt({ id: 'new', clinician_id: 'c2', start_local: '2025-11-24T10:30:00' }));
    await setup();
    await clickSlot('2025-11-24T10:30:00', 'c2');

    const patientBox = screen.getByTestId('booking-patient');
    await fireEvent.input(patientBox, { target: { value: 'smi' } });
    await new Promise((r) => setTimeout(r, 150));
    await flush();
    await fireEvent.click(screen.getByTestId('booking-patient-option'));
    await fireEvent.input(screen.getByTestId('booking-notes'), { target: { value: 'Bring letter' } });
    await fireEvent.click(screen.getByTestId('booking-submit'));
    await flush();

    expect(book).toHaveBeenCalledWith({
      patient_id: 'p1', clinician_id: 'c2', start_local: '2025-11-24T10:30:00', minutes: 15,
      type_name: 'Consultation', room_id: null, notes: 'Bring letter', override_checks: false,
    });
    expect(screen.getByTestId('booking-error').textContent).toContain('already has Bob Jones');
    await fireEvent.click(screen.getByTestId('booking-override'));
    await flush();
    expect(book).toHaveBeenCalledTimes(2);
    expect(book.mock.calls[1][0]).toMatchObject({ patient_id: 'p1', clinician_id: 'c2', override_checks: true });
    expect(screen.queryByTestId('booking-dialog')).toBeNull();
  });

  it('opens the booking dialog for the patient chosen on their summary', async () => {
    calendar.mockResolvedValue(calendarView());
    render(CalendarScreen, { user, navigate: vi.fn(), bookFor: { id: 'p1', name: 'Jane Smith' } });
    await flush();
    expect(screen.getByTestId('booking-dialog')).toBeTruthy();
    expect((screen.getByTestId('booking-patient') as HTMLInputElement).value).toBe('Jane Smith');
  });

  it('will not book without a patient', async () => {
    await setup();
    await fireEvent.click(screen.getByTestId('new-appointment'));
    await fireEvent.click(screen.getByTestId('booking-submit'));
    expect(book).not.toHaveBeenCalled();
    expect(screen.getByText(/Choose a patient/)).toBeTruthy();
  });

  it('editing the patient box after choosing un-chooses the patient', async () => {
    search.mockResolvedValue([hit()]);
    await setup();
    await clickSlot('2025-11-24T10:30:00', 'c1');
    const box = screen.getByTestId('booking-patient');
    await fireEvent.input(box, { target: { value: 'smi' } });
    await new Promise((r) => setTimeout(r, 150));
    await flush();
    await fireEvent.click(screen.getByTestId('booking-patient-option'));
    expect(screen.getByText('Jane Smith', { selector: 'strong' })).toBeTruthy();
    await fireEvent.input(box, { target: { value: 'Jane Smithers' } });
    await fireEvent.click(screen.getByTestId('booking-submit'));
    expect(book).not.toHaveBeenCalled();
    expect(screen.getByText(/Choose a patient/)).toBeTruthy();
  });

  it('the slot finder lists free slots and a click picks one', async () => {
    findSlots.mockResolvedValue([
      { start_local: '2025-11-24T11:00:00', end_local: '2025-11-24T11:15:00', label: 'Mon 24 Nov, 11:00' },
      { start_local: '2025-11-24T11:15:00', end_local: '2025-11-24T11:30:00', label: 'Mon 24 Nov, 11:15' },
    ]);
    await setup();
    await clickSlot('2025-11-24T10:30:00', 'c1');
    await fireEvent.click(screen.getByTestId('find-slots'));
    await flush();
    expect(findSlots).toHaveBeenCalledWith('c1', 15, '2025-11-24T10:30:00', 5);
    const options = screen.getAllByTestId('slot-option');
    expect(options).toHaveLength(2);
    await fireEvent.click(options[1]);
    expect(screen.getByTestId('booking-start').getAttribute('data-value')).toBe('2025-11-24T11:15:00');
    expect((screen.getByTestId('booking-start-time') as HTMLInputElement).value).toBe('11:15');
  });

  it('the appointment panel offers only the allowed actions', async () => {
    await setup(calendarView({ appointments: [appt({ next_statuses: ['arrived', 'cancelled'] })] }));
    opts().eventClick!({ event: { id: 'a1' } } as never);
    await tick();
    const panel = screen.getByTestId('appointment-panel');
    expect(panel.getAttribute('data-appointment-id')).toBe('a1');
    expect(within(panel).getByTestId('appt-status').textContent).toBe('Booked');
    expect(within(panel).getByTestId('appt-status').getAttribute('data-status')).toBe('scheduled');
    expect(within(panel).queryByTestId('appt-checkin')).toBeTruthy();
    expect(within(panel).queryByTestId('appt-cancel')).toBeTruthy();
    expect(within(panel).queryByTestId('appt-noshow')).toBeNull();
    await fireEvent.click(within(panel).getByTestId('panel-close'));
    expect(screen.queryByTestId('appointment-panel')).toBeNull();

    calendar.mockResolvedValue(calendarView({ appointments: [appt({ status: 'arrived', next_statuses: ['in_progress'] })] }));
    await fireEvent.click(screen.getByTestId('cal-today'));
    await fireEvent.click(screen.getByTestId('cal-next'));
    await fireEvent.click(screen.getByTestId('cal-prev'));
    await flush();
    opts().eventClick!({ event: { id: 'a1' } } as never);
    await tick();
    expect(screen.queryByTestId('appt-checkin')).toBeNull();
    expect(screen.queryByTestId('appt-noshow')).toBeNull();
    expect(screen.queryByTestId('appt-cancel')).toBeNull();
    expect(screen.queryByTestId('appt-move')).toBeNull();
  });

  it('a change another desk made second is shown on the appointment, with what it carried', async () => {
    const second = {
      what: 'change appointment',
      by: 'Rita Reception',
      at_local: '2025-11-24T08:55:00',
      message: 'Nothing was changed: another workstation had already made this change appointment.',
      carried: 'to: cancelled · reason: clinician ill',
    };
    await setup(calendarView({ appointments: [appt({ status: 'cancelled', status_reason: 'patient phoned', not_applied: [second] })] }));
    opts().eventClick!({ event: { id: 'a1' } } as never);
    await tick();
    const section = within(screen.getByTestId('appointment-panel')).getByTestId('not-applied');
    expect(section.textContent).toContain('by Rita Reception');
    expect(section.textContent).toContain('reason: clinician ill');
    expect(section.textContent).toContain('Mon 24 Nov, 08:55');
    expect(screen.getByTestId('appointment-panel').textContent).toContain('patient phoned');
  });

  it('no section for an appointment with nothing set aside', async () => {
    await setup();
    opts().eventClick!({ event: { id: 'a1' } } as never);
    await tick();
    expect(screen.queryByTestId('not-applied')).toBeNull();
  });

  it('check in sets the status to arrived', async () => {
    setStatus.mockResolvedValue(appt({ status: 'arrived' }));
    const props = await setup();
    opts().eventClick!({ event: { id: 'a1' } } as never);
    await tick();
    await fireEvent.click(screen.getByTestId('appt-checkin'));
    await flush();
    expect(setStatus).toHaveBeenCalledWith('a1', 'arrived', null);
    expect(props.onChanged).toHaveBeenCalled();
  });

  it('cancelling needs a reason', async () => {
    setStatus.mockResolvedValue(appt({ status: 'cancelled' }));
    await setup();
    opts().eventClick!({ event: { id: 'a1' } } as never);
    await tick();
    await fireEvent.click(screen.getByTestId('appt-cancel'));
    await fireEvent.click(screen.getByTestId('cancel-confirm'));
    expect(setStatus).not.toHaveBeenCalled();
    expect(screen.getByText('Please give a reason for cancelling.')).toBeTruthy();
    await fireEvent.input(screen.getByTestId('cancel-reason'), { target: { value: 'Patient phoned' } });
    await fireEvent.click(screen.getByTestId('cancel-confirm'));
    await flush();
    expect(setStatus).toHaveBeenCalledWith('a1', 'cancelled', 'Patient phoned');
  });

  it('Move in the panel calls move_appointment with the new start, and shows a refusal', async () => {
    move.mockRejectedValueOnce(clinicError('CONFLICT', 'Dr Adams is busy at 14:00.'));
    move.mockResolvedValueOnce(appt({ start_local: '2025-11-24T14:00:00' }));
    await setup();
    opts().eventClick!({ event: { id: 'a1' } } as never);
    await tick();
    await fireEvent.click(screen.getByTestId('appt-move'));
    expect(screen.getByTestId('move-start').getAttribute('data-value')).toBe('2025-11-24T09:00:00');
    await fireEvent.input(screen.getByTestId('move-start-time'), { target: { value: '1400' } });
    expect(screen.getByTestId('move-start').getAttribute('data-value')).toBe('2025-11-24T14:00:00');
    await fireEvent.click(screen.getByTestId('move-confirm'));
    await flush();
    expect(move).toHaveBeenCalledWith({ id: 'a1', start_local: '2025-11-24T14:00:00', clinician_id: null, override_checks: false });
    expect(screen.getByTestId('panel-error').textContent).toContain('busy at 14:00');
    await fireEvent.click(screen.getByTestId('move-override'));
    await flush();
    expect(move).toHaveBeenLastCalledWith({ id: 'a1', start_local: '2025-11-24T14:00:00', clinician_id: null, override_checks: true });
  });

  it('dragging moves the appointment (time and clinician); a refusal reverts and is shown', async () => {
    move.mockRejectedValueOnce(clinicError('CONFLICT', 'Dr Brown is not working then.'));
    await setup();
    const revert = vi.fn();
    opts().eventDrop!({
      event: { id: 'a1' }, oldResource: { id: 'c1' }, newResource: { id: 'c2' },
      delta: { years: 0, months: 0, days: 0, seconds: 5400, inWeeks: false }, revert,
    } as never);
    await flush();
    expect(move).toHaveBeenCalledWith({ id: 'a1', start_local: '2025-11-24T10:30:00', clinician_id: 'c2', override_checks: false });
    expect(revert).toHaveBeenCalled();
    expect(screen.getByTestId('calendar-banner').textContent).toContain('not working then');
  });

  it('shows chosen clinicians: everyone by day, one by week, remembered for the person', async () => {
    localStorage.clear();
    const many = Array.from({ length: 20 }, (_, i) => ({ id: `c${i + 1}`, name: `Dr ${String.fromCharCode(65 + i)}` }));
    await setup(calendarView({ clinicians: many }));
    expect(opts().resources).toHaveLength(20);
    expect(screen.getByTestId('cal-clinicians').textContent).toContain('All 20 clinicians');
    // The week of one clinician: 7 columns, not 140.
    await fireEvent.click(screen.getByTestId('cal-view-week'));
    await flush();
    expect(opts().resources).toEqual([{ id: 'c1', title: 'Dr A' }]);
    expect(screen.getByTestId('calendar').getAttribute('data-columns')).toBe('7');
    await fireEvent.click(screen.getByTestId('cal-clinicians'));
    const box = (id: string) => screen.getAllByTestId('cal-pick').find((b) => b.getAttribute('data-clinician-id') === id)!;
    for (const id of ['c2', 'c3', 'c4', 'c5']) await fireEvent.click(box(id));
    // At most four side by side: the first chosen gives way.
    expect(resourceIds()).toEqual(['c2', 'c3', 'c4', 'c5']);
    // Back to the day, narrowed to two.
    await fireEvent.click(screen.getByTestId('cal-view-day'));
    await flush();
    await fireEvent.click(screen.getAllByTestId('cal-only')[6]);
    await fireEvent.click(box('c9'));
    expect(resourceIds()).toEqual(['c7', 'c9']);
    expect(screen.getByTestId('cal-clinicians').textContent).toContain('2 of 20 clinicians');
    // The choice is this person's on this computer.
    expect(JSON.parse(localStorage.getItem(`clinic.calendar.clinicians.${user.user_id}`)!)).toEqual({
      day: ['c7', 'c9'], week: ['c2', 'c3', 'c4', 'c5'],
    });
    // Appointments of clinicians not shown are not drawn at all.
    const drawn = (opts().events as { resourceIds: string[] }[]).flatMap((e) => e.resourceIds);
    expect(drawn.every((r) => r === 'c7' || r === 'c9')).toBe(true);
    localStorage.clear();
  });

  it('opens at the current hour today, and at the first working hour on other days', async () => {
    await setup(calendarView({ now_local: '2025-11-24T15:40:00' }));
    expect(opts().scrollTime).toBe('14:00:00');
    calendar.mockResolvedValue(calendarView({ now_local: '2025-11-24T15:40:00', working: [
      { clinician_id: 'c1', start_local: '2025-11-25T10:00:00', end_local: '2025-11-25T17:00:00' },
    ], appointments: [] }));
    await fireEvent.click(screen.getByTestId('cal-next'));
    await flush();
    expect(opts().scrollTime).toBe('09:00:00');
  });

  it('an arrived patient can be un-checked-in from the panel, as a change with its reason', async () => {
    setStatus.mockResolvedValueOnce(appt({ status: 'scheduled' }));
    await setup(calendarView({ appointments: [appt({ status: 'arrived', next_statuses: ['in_progress', 'scheduled'] })] }));
    opts().eventClick!({ event: { id: 'a1' } } as never);
    await tick();
    await fireEvent.click(screen.getByTestId('appt-undo-checkin'));
    await flush();
    expect(setStatus).toHaveBeenCalledWith('a1', 'scheduled', 'Check-in undone at the desk');
  });

  it('a booking shows at once as "saving", then as booked; a refusal takes the card away and brings the dialog back', async () => {
    search.mockResolvedValue([hit()]);
    let answer: { ok: (a: ReturnType<typeof appt>) => void; no: (e: unknown) => void } = { ok: () => {}, no: () => {} };
    book.mockImplementation(() => new Promise((ok, no) => (answer = { ok, no })));
    await setup();
    await clickSlot('2025-11-24T10:30:00', 'c2');
    await fireEvent.input(screen.getByTestId('booking-patient'), { target: { value: 'smi' } });
    await new Promise((r) => setTimeout(r, 150));
    await flush();
    await fireEvent.click(screen.getByTestId('booking-patient-option'));
    const saving = () => document.querySelector('[data-saving="true"]');
    const dialogShown = () => !screen.getByTestId('booking-dialog').parentElement!.classList.contains('hidden');

    // Refused: the card goes, the dialog comes back with the reason.
    await fireEvent.click(screen.getByTestId('booking-submit'));
    await tick();
    expect(saving()?.textContent).toContain('saving');
    expect(saving()?.textContent).toContain('Jane Smith');
    expect(dialogShown()).toBe(false);
    answer.no(clinicError('CONFLICT', 'Dr Brown already has Bob Jones at 10:30.'));
    await flush();
    expect(saving()).toBeNull();
    expect(dialogShown()).toBe(true);
    expect(screen.getByTestId('booking-error').textContent).toContain('already has Bob Jones');

    // Booked: the card is the committed appointment.
    await fireEvent.click(screen.getByTestId('booking-override'));
    await tick();
    expect(saving()).not.toBeNull();
    const booked = appt({ id: 'new', patient_name: 'Jane Smith', clinician_id: 'c2', start_local: '2025-11-24T10:30:00' });
    calendar.mockResolvedValue(calendarView({ appointments: [appt(), booked] }));
    answer.ok(booked);
    await flush();
    expect(saving()).toBeNull();
    expect(screen.queryByTestId('booking-dialog')).toBeNull();
    expect(document.querySelector('[data-appointment-id="new"]')).not.toBeNull();
  });
});
