import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../lib/api';
import type { UserView } from '../lib/bindings';
import { clinicError, flush } from '../test/helpers';
import Admin from './Admin.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));

const dana: UserView = { id: 'u1', email: 'desk@clinic.test', name: 'Dana Desk', roles: ['reception'], disabled: false };

describe('Admin', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    vi.mocked(api.users).mockResolvedValue([dana]);
    vi.mocked(api.roles).mockResolvedValue([{ key: 'admin', name: 'Administrator' }, { key: 'reception', name: 'Receptionist' }]);
    vi.mocked(api.settings).mockResolvedValue({
      data_dir: '/data', log_dir: '/logs', version: '0.1.0', server_url: null, device_id: null, device_name: 'Desk 1',
      clinic_name: 'Riverside', site_name: 'Main St', timezone: 'Europe/London', keychain_linked: false,
    });
  });

  it('lists users and settings, adds a user with a role, and disables one', async () => {
    vi.mocked(api.addUser).mockResolvedValue({ id: 'u2', email: 'new@clinic.test', name: 'Nia New', roles: ['reception'], disabled: false });
    vi.mocked(api.setUserDisabled).mockResolvedValue({ ...dana, disabled: true });
    render(Admin);
    await flush();
    expect(screen.getAllByTestId('user-row')).toHaveLength(1);
    // Roles in words, not their codes.
    expect([...screen.getByTestId('user-role').querySelectorAll('option')].map((o) => o.textContent)).toEqual(['Administrator', 'Receptionist']);
    expect(screen.getByTestId('settings-panel').textContent).toContain('Not connected to a server');

    await fireEvent.click(screen.getByTestId('add-user'));
    await fireEvent.input(screen.getByTestId('new-user-name'), { target: { value: 'Nia New' } });
    await fireEvent.input(screen.getByTestId('new-user-email'), { target: { value: 'new@clinic.test' } });
    await fireEvent.change(screen.getByTestId('new-user-role'), { target: { value: 'reception' } });
    await fireEvent.input(screen.getByTestId('new-user-password'), { target: { value: 'temporary-pass' } });
    await fireEvent.click(screen.getByTestId('add-user-submit'));
    await flush();
    expect(api.addUser).toHaveBeenCalledWith({ name: 'Nia New', email: 'new@clinic.test', role: 'reception', password: 'temporary-pass' });
    expect(screen.getAllByTestId('user-row')).toHaveLength(2);

    await fireEvent.click(screen.getAllByTestId('toggle-user')[0]);
    await flush();
    expect(api.setUserDisabled).toHaveBeenCalledWith('desk@clinic.test', true);
    expect(screen.getAllByTestId('user-row')[0].textContent).toContain('Disabled');
  });

  it("changes a user's role, and shows a refusal with the role unchanged", async () => {
    vi.mocked(api.setUserRoles).mockResolvedValueOnce({ ...dana, roles: ['admin'] });
    render(Admin);
    await flush();
    const select = () => screen.getByTestId('user-role') as HTMLSelectElement;
    expect(select().value).toBe('reception');
    await fireEvent.change(select(), { target: { value: 'admin' } });
    await flush();
    expect(api.setUserRoles).toHaveBeenCalledWith('desk@clinic.test', ['admin']);
    expect(select().value).toBe('admin');

    vi.mocked(api.setUserRoles).mockRejectedValueOnce(
      clinicError('FORBIDDEN', 'Max cannot give these roles: it allows more than their own roles do.'),
    );
    await fireEvent.change(select(), { target: { value: 'reception' } });
    await flush();
    expect(screen.getByRole('alert').textContent).toContain('allows more than their own');
    expect(select().value).toBe('admin');
  });
});
