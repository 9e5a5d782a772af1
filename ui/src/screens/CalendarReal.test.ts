// The real EventCalendar in jsdom: checks that our options are ones it
// understands (appointments drawn in the right resource column, marked with
// data attributes, working hours as background events).
import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import * as api from '../lib/api';
import { appt, calendarView, user } from '../test/fixtures';
import { flush } from '../test/helpers';
import CalendarScreen from './CalendarScreen.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));

describe('CalendarScreen with the real EventCalendar', () => {
  it('draws appointments with their data attributes and the clinicians as columns', async () => {
    vi.mocked(api.calendar).mockResolvedValue(
      calendarView({ appointments: [appt(), appt({ id: 'a2', clinician_id: 'c2', status: 'arrived', conflict: 'Overlap' })] }),
    );
    render(CalendarScreen, { user, navigate: vi.fn() });
    await flush(10);
    const cal = screen.getByTestId('calendar');
    expect(cal.textContent).toContain('Dr Adams');
    expect(cal.textContent).toContain('Dr Brown');
    const a1 = cal.querySelector('[data-appointment-id="a1"]');
    const a2 = cal.querySelector('[data-appointment-id="a2"]');
    expect(a1?.getAttribute('data-status')).toBe('scheduled');
    expect(a2?.getAttribute('data-status')).toBe('arrived');
    expect(a2?.classList.contains('conflict')).toBe(true);
    expect(a2?.textContent).toContain('Double booking');
    expect(cal.querySelector('.ec-bg-event.working')).not.toBeNull();
  });
});
