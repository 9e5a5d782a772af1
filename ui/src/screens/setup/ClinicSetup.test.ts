import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../../lib/api';
import type { SetupView } from '../../lib/bindings';
import { flush } from '../../test/helpers';
import ClinicSetup from './ClinicSetup.svelte';

vi.mock('../../lib/api', async (orig) => (await import('../../test/helpers')).mockApi(await orig()));

function setup(over: Partial<SetupView> = {}): SetupView {
  return {
    site_name: 'Main St', timezone: 'Europe/London',
    clinicians: [
      { id: 'c1', name: 'Dr Adams', hours: [], leave: [] },
      { id: 'c2', name: 'Dr Brown', hours: [{ weekday: 6, start: '09:00', end: '12:00' }], leave: [] },
    ],
    rooms: [], types: [{ id: 't1', name: 'Consultation', minutes: 15, colour: '#cfe2f6', archived: false }],
    can_edit: true, can_edit_rooms: true, ...over,
  };
}

describe('ClinicSetup', () => {
  beforeEach(() => vi.resetAllMocks());

  it('fills Monday to Friday and saves the hours as typed, keeping the weekend', async () => {
    vi.mocked(api.setupView).mockResolvedValue(setup());
    vi.mocked(api.saveHours).mockResolvedValue(setup());
    render(ClinicSetup, { tab: 'hours' });
    await flush();
    expect(screen.getByTestId('hours-none')).toBeTruthy();
    await fireEvent.change(screen.getByTestId('setup-clinician'), { target: { value: 'c2' } });
    await flush();
    await fireEvent.input(screen.getByTestId('hours-week-from'), { target: { value: '8.30' } });
    await fireEvent.input(screen.getByTestId('hours-week-to'), { target: { value: '1700' } });
    await fireEvent.click(screen.getByTestId('hours-mon-fri'));
    expect(screen.getAllByTestId('hours-row')).toHaveLength(6);
    await fireEvent.click(screen.getByTestId('hours-save'));
    await flush();
    expect(api.saveHours).toHaveBeenCalledWith('c2', [
      ...[1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '08:30', end: '17:00' })),
      { weekday: 6, start: '09:00', end: '12:00' },
    ]);
    expect(screen.getByTestId('setup-notice').textContent).toContain('Dr Brown');
  });

  it('refuses to save a period that ends before it starts, and says so on the row', async () => {
    vi.mocked(api.setupView).mockResolvedValue(setup());
    render(ClinicSetup, { tab: 'hours' });
    await flush();
    await fireEvent.click(screen.getByTestId('hours-add'));
    const [from, to] = screen.getAllByTestId('hours-row')[0].querySelectorAll('input');
    await fireEvent.input(from, { target: { value: '14:00' } });
    await fireEvent.input(to, { target: { value: '13:00' } });
    await fireEvent.click(screen.getByTestId('hours-save'));
    expect(api.saveHours).not.toHaveBeenCalled();
    expect(screen.getAllByTestId('hours-row')[0].textContent).toContain('Ends before it starts');
    expect(screen.getByTestId('setup-error').textContent).toContain('need fixing');
  });

  it('adds leave from the day and time typed the site way', async () => {
    vi.mocked(api.setupView).mockResolvedValue(setup());
    vi.mocked(api.addLeave).mockResolvedValue(setup());
    render(ClinicSetup, { tab: 'hours' });
    await flush();
    await fireEvent.input(screen.getByTestId('leave-from-date'), { target: { value: '24/12/2026' } });
    await fireEvent.input(screen.getByTestId('leave-from-time'), { target: { value: '13:00' } });
    await fireEvent.input(screen.getByTestId('leave-to-date'), { target: { value: '27/12/2026' } });
    await fireEvent.input(screen.getByTestId('leave-to-time'), { target: { value: '0:00' } });
    await fireEvent.input(screen.getByTestId('leave-reason'), { target: { value: 'Christmas' } });
    await fireEvent.click(screen.getByTestId('leave-add'));
    await flush();
    expect(api.addLeave).toHaveBeenCalledWith({
      clinician_id: 'c1', kind: 'leave', start_local: '2026-12-24T13:00:00', end_local: '2026-12-27T00:00:00', reason: 'Christmas',
    });
  });

  it('adds a room, and tells a manager that rooms are an administrator’s', async () => {
    vi.mocked(api.setupView).mockResolvedValue(setup());
    vi.mocked(api.saveRoom).mockResolvedValue(setup({ rooms: [{ id: 'r1', name: 'Room 3', kind: 'treatment' }] }));
    const { unmount } = render(ClinicSetup, { tab: 'rooms' });
    await flush();
    expect(screen.getByTestId('rooms-none')).toBeTruthy();
    await fireEvent.input(screen.getByTestId('room-name'), { target: { value: ' Room 3 ' } });
    await fireEvent.change(screen.getByTestId('room-kind'), { target: { value: 'treatment' } });
    await fireEvent.click(screen.getByTestId('room-add'));
    await flush();
    expect(api.saveRoom).toHaveBeenCalledWith(null, ' Room 3 ', 'treatment');
    expect(screen.getAllByTestId('room-row')).toHaveLength(1);
    unmount();

    vi.mocked(api.setupView).mockResolvedValue(setup({ can_edit_rooms: false }));
    render(ClinicSetup, { tab: 'rooms' });
    await flush();
    expect(screen.queryByTestId('room-add')).toBeNull();
    expect(document.body.textContent).toContain('Only a full administrator');
  });

  it('changes a type’s length and adds a new type with the nil id', async () => {
    vi.mocked(api.setupView).mockResolvedValue(setup());
    vi.mocked(api.saveType).mockResolvedValue(setup());
    render(ClinicSetup, { tab: 'types' });
    await flush();
    expect(screen.queryByTestId('type-save')).toBeNull();
    await fireEvent.input(screen.getByLabelText('Minutes of Consultation'), { target: { value: '20' } });
    await fireEvent.click(screen.getByTestId('type-save'));
    await flush();
    expect(api.saveType).toHaveBeenCalledWith({ id: 't1', name: 'Consultation', minutes: 20, colour: '#cfe2f6', archived: false });
    await fireEvent.input(screen.getByTestId('type-name'), { target: { value: 'Dressing' } });
    await fireEvent.input(screen.getByTestId('type-minutes'), { target: { value: '10' } });
    await fireEvent.click(screen.getByTestId('type-add'));
    await flush();
    expect(api.saveType).toHaveBeenLastCalledWith({
      id: '00000000-0000-0000-0000-000000000000', name: 'Dressing', minutes: 10, colour: '#cfe2f6', archived: false,
    });
  });
});
