import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../lib/api';
import { appt, patient, user } from '../test/fixtures';
import { flush } from '../test/helpers';
import PatientSummary from './PatientSummary.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));

describe('PatientSummary', () => {
  beforeEach(() => vi.resetAllMocks());

  it('shows alerts, allergies, contacts and appointments, and books for the patient', async () => {
    vi.mocked(api.patientSummary).mockResolvedValue({
      patient: patient({
        alert_level: 'high', flags: ['Wheelchair user'],
        allergies: [{ id: 'al', substance: 'Penicillin', reaction: 'Rash', severity: 'severe' }],
        insurances: [{ id: 'i', provider: 'HealthCo', policy_number: 'HC-1', group_number: null, member_number: null, plan: null, valid_from: null, valid_to: null, copay: null, is_primary: true }],
        emergency_contacts: [{ id: 'e', name: 'John Smith', relationship: 'Husband', phone: '0770', email: null }],
      }),
      upcoming: [appt(), appt({ id: 'a2', start_local: '2025-12-01T10:00:00', end_local: '2025-12-01T10:15:00' })],
      past: [],
      not_applied: [
        {
          what: 'update patient', by: 'Dr Adams', at_local: '2025-11-24T08:40:00',
          message: 'The record was archived on another workstation.', carried: 'city: Leeds',
        },
      ],
    });
    const navigate = vi.fn();
    render(PatientSummary, { patientId: 'p1', user, navigate });
    await flush();
    expect(screen.getByTestId('patient-summary').getAttribute('data-patient-id')).toBe('p1');
    expect(screen.getByTestId('patient-name').textContent).toContain('Jane');
    // A change another desk's came before is shown, with what it carried.
    expect(screen.getByTestId('not-applied').textContent).toContain('city: Leeds');
    const alerts = screen.getByTestId('patient-alerts').textContent!;
    expect(alerts).toContain('Alert level: HIGH');
    expect(alerts).toContain('Wheelchair user');
    expect(document.body.textContent).toContain('Penicillin (severe, Rash)');
    expect(document.body.textContent).toContain('John Smith (Husband) · 0770');
    expect(document.body.textContent).toContain('HealthCo · HC-1');
    expect(screen.getAllByTestId('upcoming-appointment')).toHaveLength(2);
    await fireEvent.click(screen.getByTestId('book-for-patient'));
    expect(navigate).toHaveBeenCalledWith({ name: 'calendar', bookFor: { id: 'p1', name: 'Jane Smith' } });
    await fireEvent.click(screen.getByTestId('edit-patient'));
    expect(navigate).toHaveBeenLastCalledWith({ name: 'patients', mode: 'edit', patientId: 'p1' });
  });

  it('hides booking and editing from users who may not', async () => {
    vi.mocked(api.patientSummary).mockResolvedValue({ patient: patient(), upcoming: [], past: [], not_applied: [] });
    render(PatientSummary, { patientId: 'p1', user: { ...user, can_book: false, can_edit: false }, navigate: vi.fn() });
    await flush();
    expect(screen.queryByTestId('book-for-patient')).toBeNull();
    expect(screen.queryByTestId('edit-patient')).toBeNull();
    expect(screen.getByText('No upcoming appointments.')).toBeTruthy();
  });

  it('says what the role may not see is hidden, never that there is none', async () => {
    vi.mocked(api.patientSummary).mockResolvedValue({
      patient: patient({ allergies: [], insurances: [], redacted: ['financial_data', 'medical_history'] }),
      upcoming: [], past: [], not_applied: [],
    });
    render(PatientSummary, { patientId: 'p1', user: { ...user, can_document: false, can_bill: false }, navigate: vi.fn() });
    await flush();
    expect(screen.getByTestId('patient-allergies').textContent).toContain('hidden for your role');
    expect(document.body.textContent).not.toContain('No allergies recorded');
    expect(screen.getByTestId('insurance-hidden').textContent).toBe('Hidden for your role.');
    expect(screen.getByTestId('redacted-note').textContent).toContain('medical history (allergies');
  });

  it('says "no allergies recorded" only to a role that may see them', async () => {
    vi.mocked(api.patientSummary).mockResolvedValue({ patient: patient({ allergies: [], redacted: [] }), upcoming: [], past: [], not_applied: [] });
    render(PatientSummary, { patientId: 'p1', user, navigate: vi.fn() });
    await flush();
    expect(screen.getByTestId('patient-allergies').textContent).toContain('No allergies recorded.');
    expect(screen.queryByTestId('allergies-hidden')).toBeNull();
  });
});
