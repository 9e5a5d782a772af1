import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../lib/api';
import type { DeviceRow } from '../lib/bindings';
import { clinicError, flush } from '../test/helpers';
import DevicesPanel from './DevicesPanel.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));

function device(over: Partial<DeviceRow> = {}): DeviceRow {
  return {
    id: 'd1', name: 'Front desk 1', site_name: 'Main St', enrolled_by: 'Ada Admin',
    enrolled_at: '2025-11-01T09:00:00Z', last_seen_at: '2025-11-24T09:59:00Z', revoked_at: null, this_device: true, ...over,
  };
}

async function show(password = 'admin-pass') {
  await fireEvent.input(screen.getByTestId('devices-password'), { target: { value: password } });
  await fireEvent.click(screen.getByTestId('devices-show'));
  await flush();
}

describe('DevicesPanel', () => {
  beforeEach(() => vi.resetAllMocks());

  it('asks for the password, then lists devices; this computer cannot be revoked from itself', async () => {
    vi.mocked(api.devices).mockResolvedValue([device(), device({ id: 'd2', name: 'Front desk 2', this_device: false })]);
    render(DevicesPanel);
    await fireEvent.click(screen.getByTestId('devices-show'));
    expect(screen.getByTestId('devices-error').textContent).toContain('Enter your password');
    expect(api.devices).not.toHaveBeenCalled();
    await show();
    expect(api.devices).toHaveBeenCalledWith('admin-pass', null);
    const rows = screen.getAllByTestId('device-row');
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain('this computer');
    expect(screen.getAllByTestId('device-revoke')).toHaveLength(1);
  });

  it('revokes only after confirmation, with the same password, and shows the new list', async () => {
    vi.mocked(api.devices).mockResolvedValue([device(), device({ id: 'd2', name: 'Front desk 2', this_device: false })]);
    vi.mocked(api.revokeDevice).mockResolvedValue([
      device(), device({ id: 'd2', name: 'Front desk 2', this_device: false, revoked_at: new Date().toISOString() }),
    ]);
    render(DevicesPanel);
    await show();
    await fireEvent.click(screen.getByTestId('device-revoke'));
    expect(screen.getByTestId('revoke-confirm').textContent).toContain('Revoke “Front desk 2”?');
    await fireEvent.click(screen.getByTestId('revoke-no'));
    expect(screen.queryByTestId('revoke-confirm')).toBeNull();
    expect(api.revokeDevice).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId('device-revoke'));
    await fireEvent.click(screen.getByTestId('revoke-yes'));
    await flush();
    expect(api.revokeDevice).toHaveBeenCalledWith('d2', 'admin-pass', null);
    const revoked = screen.getAllByTestId('device-row')[1];
    expect(revoked.getAttribute('data-revoked')).toBe('true');
    expect(revoked.textContent).toContain('Revoked');
    expect(screen.queryByTestId('device-revoke')).toBeNull();
  });

  it('asks for the authenticator code when the server wants one, and shows a wrong password in words', async () => {
    vi.mocked(api.devices)
      .mockRejectedValueOnce(clinicError('INVALID_CREDENTIALS', 'Wrong email or password.'))
      .mockRejectedValueOnce(clinicError('MFA_REQUIRED', 'Enter the code from your authenticator app.'))
      .mockResolvedValueOnce([device()]);
    render(DevicesPanel);
    await show('wrong');
    expect(screen.getByTestId('devices-error').textContent).toBe('Wrong email or password.');
    expect(screen.queryByTestId('devices-totp')).toBeNull();
    await show('right');
    expect(screen.getByTestId('devices-totp')).toBeTruthy();
    await fireEvent.input(screen.getByTestId('devices-totp'), { target: { value: ' 123456 ' } });
    await fireEvent.click(screen.getByTestId('devices-show'));
    await flush();
    expect(api.devices).toHaveBeenLastCalledWith('right', '123456');
    expect(screen.getAllByTestId('device-row')).toHaveLength(1);
  });
});
