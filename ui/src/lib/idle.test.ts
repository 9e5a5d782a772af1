import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startIdleTimer } from './idle';

describe('idle timer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires once after the idle minutes', () => {
    const target = new EventTarget();
    const onIdle = vi.fn();
    startIdleTimer({ minutes: 5, onIdle, target });
    vi.advanceTimersByTime(5 * 60_000 - 1);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60 * 60_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('keyboard and mouse activity restart the countdown', () => {
    const target = new EventTarget();
    const onIdle = vi.fn();
    startIdleTimer({ minutes: 2, onIdle, target });
    vi.advanceTimersByTime(110_000);
    target.dispatchEvent(new Event('keydown'));
    vi.advanceTimersByTime(110_000);
    target.dispatchEvent(new Event('mousemove'));
    vi.advanceTimersByTime(110_000);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(10_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('stop() and minutes = 0 disable it', () => {
    const target = new EventTarget();
    const onIdle = vi.fn();
    startIdleTimer({ minutes: 1, onIdle, target }).stop();
    startIdleTimer({ minutes: 0, onIdle, target });
    vi.advanceTimersByTime(10 * 60_000);
    expect(onIdle).not.toHaveBeenCalled();
  });
});
