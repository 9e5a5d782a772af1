import { describe, expect, it } from 'vitest';
import {
  addMinutes, dobProblem, formatDate, formatDay, formatDob, formatTime, formatWhen, parseDateIn, parseTime, relativeTime,
  setLocale, weekStart,
} from './format';

describe('format', () => {
  it('shows a date of birth with the age', () => {
    expect(formatDob('1985-03-12', '2026-03-11')).toBe('12 Mar 1985 (40)');
    expect(formatDob('1985-03-12', '2026-03-12')).toBe('12 Mar 1985 (41)');
  });

  it('writes site times in words without shifting them by the browser zone', () => {
    expect(formatWhen('2025-11-23T09:30:00')).toBe('Sun 23 Nov, 09:30');
    expect(addMinutes('2025-03-30T00:45:00', 90)).toBe('2025-03-30T02:15:00');
  });

  it('says how long ago in words', () => {
    const now = Date.parse('2025-11-24T10:00:00Z');
    expect(relativeTime('2025-11-24T09:58:00Z', now)).toBe('2 min ago');
    expect(relativeTime('2025-11-24T09:59:50Z', now)).toBe('just now');
    expect(relativeTime('2025-11-24T07:00:00Z', now)).toBe('3 hours ago');
    expect(relativeTime('2025-11-23T09:00:00Z', now)).toBe('yesterday');
  });

  it('flags obviously bad dates of birth', () => {
    expect(dobProblem('2025-02-30', '2025-11-24')).toBe('is not a real date');
    expect(dobProblem('2030-01-01', '2025-11-24')).toBe('is in the future');
    expect(dobProblem('1850-01-01', '2025-11-24')).toBe('is more than 130 years ago');
    expect(dobProblem('1990-06-01', '2025-11-24')).toBeNull();
  });

  it('writes dates and times in the site locale, not the browser one', () => {
    try {
      setLocale('en-US');
      expect(formatDate('2026-12-04')).toBe('Dec 4, 2026');
      expect(formatDay('2026-12-04')).toBe('Fri Dec 4');
      expect(formatTime('2026-12-04T17:45:00')).toBe('5:45 PM');
      expect(formatTime('2026-12-04T00:05:00')).toBe('12:05 AM');
      setLocale('de-DE');
      expect(formatDate('2026-12-04')).toBe('04.12.2026');
      expect(formatDay('2026-12-04')).toBe('Fri 04.12.');
      expect(formatTime('2026-12-04T17:45:00')).toBe('17:45');
    } finally {
      setLocale('en-GB');
    }
    expect(formatDate('2026-12-04')).toBe('4 Dec 2026');
    expect(formatWhen('2026-12-04T17:45:00')).toBe('Fri 4 Dec, 17:45');
  });

  it('reads a date in the site order and a time however it is typed', () => {
    expect(parseDateIn('04/12/2026', 'en-GB')).toBe('2026-12-04');
    expect(parseDateIn('04/12/2026', 'en-US')).toBe('2026-04-12');
    for (const [typed, read] of [['17:45', '17:45'], ['1745', '17:45'], ['9', '09:00'], ['9.30', '09:30'], ['930', '09:30'],
      ['5:45 pm', '17:45'], ['12am', '00:00'], ['12:30 PM', '12:30']] as const) {
      expect(parseTime(typed), typed).toBe(read);
    }
    for (const bad of ['24:00', '9:75', '13pm', 'noon', '', '1:2']) expect(parseTime(bad), bad).toBeNull();
  });

  it('finds Mondays', () => {
    expect(weekStart('2025-11-23')).toBe('2025-11-17');
    expect(weekStart('2025-11-24')).toBe('2025-11-24');
  });
});
