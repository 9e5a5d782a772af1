// What the stubbed EventCalendar was last given (see CalendarStub.svelte).
import type { Calendar } from '@event-calendar/core';

export const calendarProbe: { options: Calendar.Options | null } = { options: null };
