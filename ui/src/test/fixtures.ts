import type {
  AppState, AppointmentView, CalendarView, Patient, PatientHit, SessionView, SyncView,
} from '../lib/bindings';

export const user: SessionView = {
  user_id: 'u1', email: 'desk@clinic.test', name: 'Dana Desk', roles: ['reception'],
  can_register: true, can_edit: true, can_book: true, can_document: false, can_bill: false, can_take_payment: false,
  can_view_stock: false, can_dispense: false, can_manage_stock: false, can_approve_orders: false, can_cancel_orders: false, is_admin: false, must_change_password: false,
};

export const readyState: AppState = {
  stage: 'ready', data_dir: '/data', clinic_name: 'Riverside Clinic', site_name: 'Main St',
  device_name: 'Front desk 1', enrolled: true, keychain: true, user, idle_lock_minutes: 5, locale: 'en-GB', staff_unlock: false,
};

export const sync: SyncView = {
  enrolled: true, online: true, server: 'https://sync.test', pending: 0,
  last_success: null, last_error: null, open_conflicts: 0, syncing: false, progress: null,
  waiting_for_signature: null,
};

export function hit(over: Partial<PatientHit> = {}): PatientHit {
  return {
    id: 'p1', patient_number: 'P-000001', first_name: 'Jane', last_name: 'Smith', preferred_name: 'Janey',
    date_of_birth: '1985-03-12', phone: '07700 900123', score: 1, ...over,
  };
}

export function patient(over: Partial<Patient> = {}): Patient {
  return {
    id: 'p1', tenant_id: 't1', patient_number: 'P-000001', created_at: '2025-01-01T10:00:00Z', updated_at: '2025-01-01T10:00:00Z',
    archived_at: null, merged_into: null, allergies: [], conditions: [], medications: [], insurances: [],
    emergency_contacts: [], consents: [],
    first_name: 'Jane', middle_name: null, last_name: 'Smith', preferred_name: null, date_of_birth: '1985-03-12',
    sex_at_birth: 'female', gender: null, phone: '07700 900123', alt_phone: null, email: null,
    address_line1: '1 High St', address_line2: null, city: 'Townsville', state: null, postcode: 'AB1 2CD', country: null,
    national_id_kind: null, national_id: null, preferred_channel: null, preferred_language: null, reminders_opt_in: null,
    blood_group: null, smoking_status: null, alcohol_use: null, family_history: null, risk_level: null,
    alert_level: null, flags: [], ...over,
  };
}

export function appt(over: Partial<AppointmentView> = {}): AppointmentView {
  return {
    id: 'a1', patient_id: 'p1', patient_name: 'Jane Smith', patient_number: 'P-000001',
    clinician_id: 'c1', clinician_name: 'Dr Adams', room_id: 'r1', room_name: 'Room 1',
    type_name: 'Consultation', colour: '#cfe2f6', start_local: '2025-11-24T09:00:00', end_local: '2025-11-24T09:15:00',
    label: 'Mon 24 Nov, 09:00', minutes: 15, status: 'scheduled', status_reason: null, notes: null,
    conflict: null, double_booking_accepted: false, outside_hours: false,
    next_statuses: ['confirmed', 'arrived', 'no_show', 'cancelled'], not_applied: [], ...over,
  };
}

export function calendarView(over: Partial<CalendarView> = {}): CalendarView {
  return {
    site_id: 's1', site_name: 'Main St', timezone: 'Europe/London', today: '2025-11-24', now_local: '2025-11-24T10:20:00',
    clinicians: [{ id: 'c1', name: 'Dr Adams' }, { id: 'c2', name: 'Dr Brown' }],
    rooms: [{ id: 'r1', name: 'Room 1' }],
    appointments: [appt()],
    working: [{ clinician_id: 'c1', start_local: '2025-11-24T08:00:00', end_local: '2025-11-24T17:00:00' }],
    with_hours: ['c1'],
    types: [{ name: 'Consultation', minutes: 15, colour: '#cfe2f6' }, { name: 'Long visit', minutes: 30, colour: null }],
    ...over,
  };
}
