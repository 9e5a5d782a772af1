import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../lib/api';
import { readyState } from '../test/fixtures';
import { clinicError, flush } from '../test/helpers';
import SignIn from './SignIn.svelte';
import Unlock from './Unlock.svelte';
import Setup from './Setup.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));

const signIn = { ...readyState, stage: 'sign_in' as const, user: null };

describe('sign in', () => {
  beforeEach(() => vi.resetAllMocks());

  it('signs in with the email and password typed, offline against the store', async () => {
    vi.mocked(api.signIn).mockResolvedValueOnce(readyState);
    const onState = vi.fn();
    render(SignIn, { app: signIn, onState });
    await fireEvent.input(screen.getByTestId('signin-email'), { target: { value: ' desk@clinic.test ' } });
    await fireEvent.input(screen.getByTestId('signin-password'), { target: { value: 'pw' } });
    await fireEvent.click(screen.getByTestId('signin-submit'));
    await flush();
    expect(api.signIn).toHaveBeenCalledWith('desk@clinic.test', 'pw');
    expect(onState).toHaveBeenCalledWith(readyState);
  });

  it('asks for both fields before calling the store', async () => {
    render(SignIn, { app: signIn, onState: vi.fn() });
    await fireEvent.click(screen.getByTestId('signin-submit'));
    await flush();
    expect(api.signIn).not.toHaveBeenCalled();
    expect(screen.getAllByText(/is required/).length).toBe(2);
  });

  it('shows a wrong password in plain words', async () => {
    vi.mocked(api.signIn).mockRejectedValue(clinicError('INVALID_CREDENTIALS', 'The email or password is not right.'));
    render(SignIn, { app: signIn, onState: vi.fn() });
    await fireEvent.input(screen.getByTestId('signin-email'), { target: { value: 'a@b.c' } });
    await fireEvent.input(screen.getByTestId('signin-password'), { target: { value: 'x' } });
    await fireEvent.click(screen.getByTestId('signin-submit'));
    await flush();
    expect(screen.getByTestId('signin-error').textContent).toBe('The email or password is not right.');
  });
});

describe('unlock', () => {
  beforeEach(() => vi.resetAllMocks());
  const locked = { ...readyState, stage: 'locked' as const, user: null };

  it('unlocks with the passphrase, or with the keychain (null)', async () => {
    vi.mocked(api.unlock).mockResolvedValue(signIn);
    const onState = vi.fn();
    render(Unlock, { app: locked, onState });
    await fireEvent.input(screen.getByTestId('unlock-passphrase'), { target: { value: 'correct horse' } });
    await fireEvent.click(screen.getByTestId('unlock-submit'));
    await flush();
    expect(api.unlock).toHaveBeenCalledWith('correct horse');
    await fireEvent.click(screen.getByTestId('unlock-keychain'));
    await flush();
    expect(api.unlock).toHaveBeenLastCalledWith(null);
    expect(onState).toHaveBeenCalledWith(signIn);
  });

  it('hides the keychain button when there is no keychain', () => {
    render(Unlock, { app: { ...locked, keychain: false }, onState: vi.fn() });
    expect(screen.queryByTestId('unlock-keychain')).toBeNull();
  });

  it('lets staff who signed in here unlock with their own password; the passphrase is one click away', async () => {
    vi.mocked(api.unlockAs).mockRejectedValueOnce(clinicError('WRONG_KEY', 'The e-mail or password is wrong.'));
    vi.mocked(api.unlockAs).mockResolvedValueOnce(readyState);
    const onState = vi.fn();
    render(Unlock, { app: { ...locked, staff_unlock: true }, onState });
    expect(screen.queryByTestId('unlock-passphrase')).toBeNull();
    await fireEvent.input(screen.getByTestId('unlock-email'), { target: { value: ' desk@clinic.test ' } });
    await fireEvent.input(screen.getByTestId('unlock-password'), { target: { value: 'wrong' } });
    await fireEvent.click(screen.getByTestId('unlock-as-submit'));
    await flush();
    expect(screen.getByTestId('unlock-staff-error').textContent).toContain('e-mail or password is wrong');
    expect((screen.getByTestId('unlock-password') as HTMLInputElement).value).toBe('');
    await fireEvent.input(screen.getByTestId('unlock-password'), { target: { value: 'right' } });
    await fireEvent.click(screen.getByTestId('unlock-as-submit'));
    await flush();
    expect(api.unlockAs).toHaveBeenLastCalledWith('desk@clinic.test', 'right');
    expect(onState).toHaveBeenCalledWith(readyState);
    await fireEvent.click(screen.getByTestId('unlock-show-passphrase'));
    expect(screen.getByTestId('unlock-passphrase')).toBeTruthy();
  });
});

describe('first run', () => {
  beforeEach(() => vi.resetAllMocks());
  const setup = { ...readyState, stage: 'setup' as const, user: null, clinic_name: null };

  it('checks that the two passphrases match before creating the store', async () => {
    vi.mocked(api.createStore).mockResolvedValue(signIn);
    const onState = vi.fn();
    render(Setup, { app: setup, onState });
    await fireEvent.click(screen.getByTestId('setup-create'));
    const values: Record<string, string> = {
      clinic_name: 'Riverside', admin_name: 'Ada', admin_email: 'ada@x.org', admin_password: 'pw', passphrase: 'one', passphrase2: 'two',
    };
    for (const [k, v] of Object.entries(values)) await fireEvent.input(screen.getByTestId(`setup-${k}`), { target: { value: v } });
    await fireEvent.click(screen.getByTestId('setup-submit'));
    expect(api.createStore).not.toHaveBeenCalled();
    expect(screen.getByText(/does not match/)).toBeTruthy();
    await fireEvent.input(screen.getByTestId('setup-passphrase2'), { target: { value: 'one' } });
    await fireEvent.click(screen.getByTestId('setup-submit'));
    await flush();
    expect(api.createStore).toHaveBeenCalledWith({
      clinic_name: 'Riverside', admin_name: 'Ada', admin_email: 'ada@x.org', admin_password: 'pw', passphrase: 'one',
    });
    expect(onState).toHaveBeenCalledWith(signIn);
  });

  it('offers enrolment with a sync server', async () => {
    render(Setup, { app: setup, onState: vi.fn() });
    await fireEvent.click(screen.getByTestId('setup-enroll'));
    expect(screen.getByTestId('setup-server_url')).toBeTruthy();
    expect(screen.getByTestId('setup-tenant')).toBeTruthy();
    expect((screen.getByTestId('setup-device_name') as HTMLInputElement).value).toBe('Front desk 1');
  });

  it("enrols with the server's fingerprint and shows a refused plain http address at its field", async () => {
    vi.mocked(api.enroll)
      .mockRejectedValueOnce(
        clinicError('VALIDATION', 'Some fields are not valid.', [
          { field: 'server', message: 'plain http:// is only allowed to this computer' },
        ]),
      )
      .mockResolvedValueOnce(signIn);
    const onState = vi.fn();
    render(Setup, { app: setup, onState });
    await fireEvent.click(screen.getByTestId('setup-enroll'));
    const values: Record<string, string> = {
      server_url: 'http://10.0.0.5:8480', fingerprint: ' SHA256:ab ', tenant: 'river', email: 'a@x.org', password: 'pw',
      passphrase: 'one', passphrase2: 'one',
    };
    for (const [k, v] of Object.entries(values)) await fireEvent.input(screen.getByTestId(`setup-${k}`), { target: { value: v } });
    await fireEvent.click(screen.getByTestId('setup-submit'));
    await flush();
    expect(screen.getByText(/only allowed to this computer/)).toBeTruthy();
    expect(onState).not.toHaveBeenCalled();
    await fireEvent.input(screen.getByTestId('setup-fingerprint'), { target: { value: '' } });
    await fireEvent.click(screen.getByTestId('setup-submit'));
    await flush();
    expect(api.enroll).toHaveBeenNthCalledWith(1, expect.objectContaining({ server_url: 'http://10.0.0.5:8480', fingerprint: 'SHA256:ab' }));
    expect(api.enroll).toHaveBeenNthCalledWith(2, expect.objectContaining({ fingerprint: null }));
    expect(onState).toHaveBeenCalledWith(signIn);
  });
});
