// Calls onIdle once after `minutes` without keyboard, mouse or touch activity
// on `target`. minutes <= 0 disables it.

export const ACTIVITY_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'mousedown', 'mousemove', 'wheel', 'touchstart'] as const;

export type IdleTimer = { reset(): void; stop(): void };

export function startIdleTimer(opts: { minutes: number; onIdle: () => void; target?: EventTarget }): IdleTimer {
  const target = opts.target ?? window;
  const ms = opts.minutes * 60_000;
  let handle: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const stop = () => {
    stopped = true;
    if (handle !== null) clearTimeout(handle);
    handle = null;
    for (const ev of ACTIVITY_EVENTS) target.removeEventListener(ev, reset);
  };

  function reset() {
    if (stopped) return;
    if (handle !== null) clearTimeout(handle);
    handle = setTimeout(() => {
      stop();
      opts.onIdle();
    }, ms);
  }

  if (!(ms > 0)) {
    stopped = true;
    return { reset() {}, stop() {} };
  }
  for (const ev of ACTIVITY_EVENTS) target.addEventListener(ev, reset, { passive: true });
  reset();
  return { reset, stop };
}
