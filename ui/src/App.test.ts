import { beforeEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
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
