// jsdom lacks a few browser APIs the calendar and components touch.
class NoopObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() { return []; }
}
const g = globalThis as unknown as Record<string, unknown>;
g.ResizeObserver ??= NoopObserver;
g.IntersectionObserver ??= NoopObserver;
if (!Element.prototype.scrollIntoView) Element.prototype.scrollIntoView = function () {};
// jsdom has no innerText; EventCalendar writes labels through it.
if (!('innerText' in HTMLElement.prototype)) {
  Object.defineProperty(HTMLElement.prototype, 'innerText', {
    get(this: HTMLElement) { return this.textContent; },
    set(this: HTMLElement, v: string) { this.textContent = v; },
  });
}
