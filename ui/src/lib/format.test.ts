import { describe, expect, it } from 'vitest';
import { addMinutes, dobProblem, formatDob, formatWhen, fromInputValue, relativeTime, weekStart } from './format';

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

  it('converts datetime-local values and finds Mondays', () => {
    expect(fromInputValue('2025-11-24T09:30')).toBe('2025-11-24T09:30:00');
    expect(fromInputValue('')).toBeNull();
    expect(weekStart('2025-11-23')).toBe('2025-11-17');
    expect(weekStart('2025-11-24')).toBe('2025-11-24');
  });
});
