import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../lib/api';
import { clinicError, flush } from '../test/helpers';
import { patient } from '../test/fixtures';
import PatientForm from './PatientForm.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));
const checkDuplicates = vi.mocked(api.checkDuplicates);
const registerPatient = vi.mocked(api.registerPatient);
const updatePatient = vi.mocked(api.updatePatient);

function setup(original: ReturnType<typeof patient> | null = null) {
  const props = { original, onSaved: vi.fn(), onCancel: vi.fn(), onOpenExisting: vi.fn() };
  render(PatientForm, props);
  return props;
}

async function fill(name: string, value: string) {
  await fireEvent.input(screen.getByTestId(`field-${name}`), { target: { value } });
}

describe('PatientForm', () => {
  beforeEach(() => vi.resetAllMocks());

  it('shows every required input it promises', () => {
    setup();
    for (const n of ['first_name', 'last_name', 'preferred_name', 'date_of_birth', 'sex_at_birth', 'phone', 'email', 'address_line1', 'city', 'postcode']) {
      expect(screen.getByTestId(`field-${n}`)).toBeTruthy();
    }
  });

  it('asks for first and last name before calling the shell', async () => {
    setup();
    await fireEvent.click(screen.getByTestId('save-patient'));
    expect(screen.getByTestId('error-first_name').textContent).toBe('First name is required');
    expect(screen.getByTestId('error-last_name').textContent).toBe('Last name is required');
    expect(screen.getByTestId('field-first_name').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('field-first_name').getAttribute('aria-describedby')).toBe('pf-first_name-error');
    expect(checkDuplicates).not.toHaveBeenCalled();
    expect(registerPatient).not.toHaveBeenCalled();
  });

  it('rejects an impossible date of birth', async () => {
    setup();
    await fill('first_name', 'Ann');
    await fill('last_name', 'Lee');
    await fill('date_of_birth', '2999-01-01');
    await fireEvent.click(screen.getByTestId('save-patient'));
    expect(screen.getByTestId('error-date_of_birth').textContent).toBe('Date of birth is in the future');
    expect(checkDuplicates).not.toHaveBeenCalled();
  });

  it("puts the server's field errors next to the right input, and other messages at the top", async () => {
    checkDuplicates.mockResolvedValue([]);
    registerPatient.mockRejectedValueOnce(
      clinicError('VALIDATION', 'Some details need checking', [{ field: 'postcode', message: 'is not a valid postcode' }]),
    );
    setup();
    await fill('first_name', 'Ann');
    await fill('last_name', 'Lee');
    await fill('postcode', 'XX');
    await fireEvent.click(screen.getByTestId('save-patient'));
    await flush();
    expect(screen.getByTestId('error-postcode').textContent).toBe('Postcode is not a valid postcode');
    expect(screen.getByTestId('field-postcode').getAttribute('aria-invalid')).toBe('true');
    expect(screen.queryByTestId('error-first_name')).toBeNull();
    expect(screen.queryByTestId('form-error')).toBeNull();

    registerPatient.mockRejectedValueOnce(clinicError('NUMBERS_EXHAUSTED', 'No patient numbers are left'));
    await fireEvent.click(screen.getByTestId('save-patient'));
    await flush();
    expect(screen.getByTestId('form-error').textContent).toBe('No patient numbers are left');
  });

  it('warns about possible duplicates and registers only when told to', async () => {
    checkDuplicates.mockResolvedValue([
      { patient_id: 'p7', patient_number: 'P-000007', first_name: 'Ann', last_name: 'Lee', date_of_birth: '1990-01-02', score: 0.9, reasons: ['same name and date of birth'] },
    ]);
    const saved = patient({ id: 'new1', first_name: 'Ann', last_name: 'Lee' });
    registerPatient.mockResolvedValue(saved);
    const props = setup();
    await fill('first_name', 'Ann');
    await fill('last_name', 'Lee');
    await fill('date_of_birth', '1990-01-02');
    await fireEvent.click(screen.getByTestId('save-patient'));
    await flush();
    expect(checkDuplicates).toHaveBeenCalledWith(expect.objectContaining({ first_name: 'Ann', last_name: 'Lee', date_of_birth: '1990-01-02' }));
    const warning = screen.getByTestId('duplicate-warning');
    expect(warning.textContent).toContain('P-000007');
    expect(warning.textContent).toContain('same name and date of birth');
    expect(registerPatient).not.toHaveBeenCalled();

    await fireEvent.click(screen.getByTestId('register-anyway'));
    await flush();
    expect(registerPatient).toHaveBeenCalledTimes(1);
    expect(props.onSaved).toHaveBeenCalledWith(saved);
  });

  it('opening an existing duplicate does not register', async () => {
    checkDuplicates.mockResolvedValue([
      { patient_id: 'p7', patient_number: 'P-000007', first_name: 'Ann', last_name: 'Lee', date_of_birth: null, score: 0.9, reasons: [] },
    ]);
    const props = setup();
    await fill('first_name', 'Ann');
    await fill('last_name', 'Lee');
    await fireEvent.click(screen.getByTestId('save-patient'));
    await flush();
    await fireEvent.click(screen.getByText('Open this patient'));
    expect(props.onOpenExisting).toHaveBeenCalledWith('p7');
    expect(registerPatient).not.toHaveBeenCalled();
  });

  it('registers straight away when there are no duplicates', async () => {
    checkDuplicates.mockResolvedValue([]);
    registerPatient.mockResolvedValue(patient());
    setup();
    await fill('first_name', 'Ann');
    await fill('last_name', 'Lee');
    await fireEvent.click(screen.getByTestId('save-patient'));
    await flush();
    expect(screen.queryByTestId('duplicate-warning')).toBeNull();
    expect(registerPatient).toHaveBeenCalledWith(expect.objectContaining({ first_name: 'Ann', last_name: 'Lee', phone: null, flags: [] }));
  });

  it('an edit sends only the changed fields', async () => {
    const original = patient({ phone: '0123', city: 'Townsville', email: 'jane@example.org' });
    updatePatient.mockResolvedValue({ ...original, phone: '0999' });
    const props = setup(original);
    expect((screen.getByTestId('field-first_name') as HTMLInputElement).value).toBe('Jane');
    await fill('phone', '0999');
    await fill('email', '');
    await fireEvent.click(screen.getByTestId('save-patient'));
    await flush();
    expect(updatePatient).toHaveBeenCalledWith('p1', { phone: '0999', email: '' });
    expect(checkDuplicates).not.toHaveBeenCalled();
    expect(props.onSaved).toHaveBeenCalled();
  });
});
