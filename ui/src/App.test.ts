import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from './lib/api';
import { readyState } from './test/fixtures';
import { flush } from './test/helpers';
import App from './App.svelte';

vi.mock('./lib/api', async (orig) => (await import('./test/helpers')).mockApi(await orig()));
vi.mock('@event-calendar/core', async () => ({
  Calendar: (await import('./test/CalendarStub.svelte')).default,
  ResourceTimeGrid: {},
  Interaction: {},
}));

describe('stage gate', () => {
  beforeEach(() => vi.resetAllMocks());

  it.each([
    ['setup', 'setup-create'],
    ['locked', 'unlock-passphrase'],
    ['sign_in', 'signin-email'],
    ['ready', 'global-search'],
  ] as const)('stage %s shows %s', async (stage, testid) => {
    vi.mocked(api.appState).mockResolvedValue({ ...readyState, stage, user: stage === 'ready' ? readyState.user : null });
    vi.mocked(api.syncStatus).mockReturnValue(new Promise(() => {}));
    vi.mocked(api.onStateChanged).mockResolvedValue(() => {});
    render(App);
    await flush();
    expect(screen.getByTestId(testid)).toBeTruthy();
  });

  it('after a password reset, only the new-password form until one is chosen', async () => {
    const reset = { ...readyState, user: { ...readyState.user!, must_change_password: true } };
    vi.mocked(api.appState).mockResolvedValue(reset);
    vi.mocked(api.onStateChanged).mockResolvedValue(() => {});
    vi.mocked(api.syncStatus).mockReturnValue(new Promise(() => {}));
    vi.mocked(api.changePassword)
      .mockRejectedValueOnce({ code: 'VALIDATION', message: 'Please correct: password', fields: [{ field: 'password', message: 'is one of the passwords tried first by attackers; choose another' }] })
      .mockResolvedValueOnce(readyState);
    render(App);
    await flush();
    expect(screen.getByTestId('change-password')).toBeTruthy();
    expect(screen.queryByTestId('global-search')).toBeNull();
    const type = async (id: string, v: string) => fireEvent.input(screen.getByTestId(id), { target: { value: v } });
    await type('cp-current', 'Reset-by-admin-1');
    await type('cp-new', '1234567890');
    await type('cp-repeat', '12345678');
    await fireEvent.click(screen.getByTestId('cp-submit'));
    await flush();
    expect(screen.getByTestId('change-password').textContent).toContain('does not match');
    expect(api.changePassword).not.toHaveBeenCalled();
    await type('cp-repeat', '1234567890');
    await fireEvent.click(screen.getByTestId('cp-submit'));
    await flush();
    expect(screen.getByTestId('change-password').textContent).toContain('tried first by attackers');
    await type('cp-new', 'three quiet herons');
    await type('cp-repeat', 'three quiet herons');
    await fireEvent.click(screen.getByTestId('cp-submit'));
    await flush();
    expect(api.changePassword).toHaveBeenLastCalledWith('Reset-by-admin-1', 'three quiet herons');
    expect(screen.getByTestId('global-search')).toBeTruthy();
  });

  it('goes back to the unlock screen when the shell locks by itself (menu or idle)', async () => {
    let changed: (() => void) | null = null;
    vi.mocked(api.onStateChanged).mockImplementation(async (fn) => {
      changed = fn;
      return () => {};
    });
    vi.mocked(api.syncStatus).mockReturnValue(new Promise(() => {}));
    vi.mocked(api.appState).mockResolvedValueOnce(readyState);
    render(App);
    await flush();
    expect(screen.getByTestId('global-search')).toBeTruthy();
    vi.mocked(api.appState).mockResolvedValueOnce({ ...readyState, stage: 'locked', user: null });
    expect(changed).not.toBeNull();
    changed!();
    await flush();
    expect(screen.getByTestId('unlock-passphrase')).toBeTruthy();
    expect(screen.queryByTestId('global-search')).toBeNull();
  });
});
