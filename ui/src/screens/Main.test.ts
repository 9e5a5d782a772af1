import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../lib/api';
import { readyState, sync, user } from '../test/fixtures';
import { flush } from '../test/helpers';
import Main, { SYNC_POLL_MS } from './Main.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));
vi.mock('@event-calendar/core', async () => ({
  Calendar: (await import('../test/CalendarStub.svelte')).default,
  ResourceTimeGrid: {},
  Interaction: {},
}));

function setup(over: Partial<typeof user> = {}, state = readyState) {
  vi.mocked(api.syncStatus).mockResolvedValue({ ...sync, open_conflicts: 2 });
  const onState = vi.fn();
  render(Main, { app: state, user: { ...user, ...over }, onState });
  return { onState };
}

describe('Main layout', () => {
  beforeEach(() => vi.resetAllMocks());
  afterEach(() => vi.useRealTimers());

  it('Ctrl+K and / focus the global search from anywhere', async () => {
    setup();
    const search = screen.getByTestId('global-search');
    expect(document.activeElement).not.toBe(search);
    await fireEvent.keyDown(document.body, { key: 'k', ctrlKey: true });
    expect(document.activeElement).toBe(search);
    (document.activeElement as HTMLElement).blur();
    await fireEvent.keyDown(document.body, { key: '/' });
    expect(document.activeElement).toBe(search);
  });

  it('/ typed inside a text field is left alone', async () => {
    setup();
    await fireEvent.keyDown(window, { key: 'n', altKey: true });
    const first = screen.getByTestId('field-first_name');
    first.focus();
    await fireEvent.keyDown(first, { key: '/' });
    expect(document.activeElement).toBe(first);
  });

  it('Alt+N opens the new-patient form', async () => {
    setup();
    expect(screen.queryByTestId('save-patient')).toBeNull();
    await fireEvent.keyDown(window, { key: 'n', altKey: true });
    expect(screen.getByTestId('save-patient')).toBeTruthy();
  });

  it('shows Admin only to administrators, and the signed-in user', () => {
    setup();
    expect(screen.queryByTestId('nav-admin')).toBeNull();
    expect(screen.getByTestId('current-user').textContent).toBe('Dana Desk');
  });

  it('shows Admin to an administrator', () => {
    setup({ is_admin: true });
    expect(screen.getByTestId('nav-admin')).toBeTruthy();
  });

  it('polls sync status every 2 seconds and shows the conflict count', async () => {
    vi.useFakeTimers();
    setup();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.syncStatus).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('conflict-count').textContent).toBe('2');
    await vi.advanceTimersByTimeAsync(SYNC_POLL_MS);
    expect(api.syncStatus).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(SYNC_POLL_MS);
    expect(api.syncStatus).toHaveBeenCalledTimes(3);
  });

  it('locks after the idle minutes without activity', async () => {
    vi.useFakeTimers();
    const locked = { ...readyState, stage: 'locked' as const, user: null };
    vi.mocked(api.lock).mockResolvedValue(locked);
    const { onState } = setup({}, { ...readyState, idle_lock_minutes: 1 });
    await vi.advanceTimersByTimeAsync(50_000);
    await fireEvent.keyDown(window, { key: 'Shift' });
    await vi.advanceTimersByTimeAsync(50_000);
    expect(api.lock).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.lock).toHaveBeenCalledTimes(1);
    expect(onState).toHaveBeenCalledWith(locked);
  });

  it('opens a pharmacist on the stock list, with the stock alerts in the navigation', async () => {
    vi.mocked(api.stockAlertCounts).mockResolvedValue({ negative: 0, expired: 1, expiring: 2, low: 1, total: 4 });
    vi.mocked(api.stockList).mockRejectedValue({ code: 'INTERNAL', message: 'not in this test' });
    setup({ can_book: false, can_register: false, can_view_stock: true, can_dispense: true, can_manage_stock: true });
    await flush();
    expect(screen.getByTestId('stock-screen')).toBeTruthy();
    expect(screen.getByTestId('nav-stock').getAttribute('aria-current')).toBe('page');
    expect(screen.getByTestId('stock-alert-count').textContent).toBe('4');
    expect(screen.getByTestId('stock-alert-count').getAttribute('aria-label')).toBe('4 stock alerts');
  });

  it('shows no Stock to a role without inventory', async () => {
    setup();
    await flush();
    expect(screen.queryByTestId('nav-stock')).toBeNull();
    expect(api.stockAlertCounts).not.toHaveBeenCalled();
  });

  it('Switch user signs out and Lock locks', async () => {
    const signedOut = { ...readyState, stage: 'sign_in' as const, user: null };
    vi.mocked(api.signOut).mockResolvedValue(signedOut);
    vi.mocked(api.lock).mockResolvedValue({ ...readyState, stage: 'locked' as const, user: null });
    const { onState } = setup();
    await fireEvent.click(screen.getByTestId('switch-user'));
    await flush();
    expect(onState).toHaveBeenCalledWith(signedOut);
    await fireEvent.click(screen.getByTestId('lock-button'));
    await flush();
    expect(api.lock).toHaveBeenCalled();
  });
});
