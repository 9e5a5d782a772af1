// The patient registration / edit form as plain data: which inputs exist,
// how their string values map to PatientDetails, client-side checks, and
// the PatientPatch of an edit (only the changed keys).
import type { NationalIdKind, PatientDetails, PatientPatch } from './bindings';
import { dobProblem } from './format';

export type FieldName = keyof PatientDetails;
type Kind = 'text' | 'tel' | 'email' | 'date' | 'select' | 'yesno' | 'flags' | 'textarea';

export type FieldSpec = {
  name: FieldName;
  label: string;
  kind: Kind;
  section: 'Name' | 'Contact' | 'Address' | 'Alerts' | 'Identity and preferences' | 'Clinical background';
  required?: boolean;
  options?: { value: string; label: string }[];
  autocomplete?: string;
  hint?: string;
};

const LEVELS = [
  { value: 'none', label: 'None' },
  { value: 'low', label: 'Low' },
  { value: 'medium', label: 'Medium' },
  { value: 'high', label: 'High' },
];

/** National identifier schemes, as a receptionist names them (the value is the stored code). */
export const ID_KINDS: { value: NationalIdKind; label: string }[] = [
  { value: 'nhs', label: 'NHS number (UK)' },
  { value: 'ca_sin', label: 'Social Insurance Number (Canada)' },
  { value: 'nl_bsn', label: 'BSN (Netherlands)' },
  { value: 'se_personnummer', label: 'Personnummer (Sweden)' },
  { value: 'us_ssn', label: 'Social Security number (US)' },
  { value: 'other', label: 'Other' },
];

export const FIELDS: FieldSpec[] = [
  { name: 'first_name', label: 'First name', kind: 'text', section: 'Name', required: true },
  { name: 'middle_name', label: 'Middle name', kind: 'text', section: 'Name' },
  { name: 'last_name', label: 'Last name', kind: 'text', section: 'Name', required: true },
  { name: 'preferred_name', label: 'Preferred name', kind: 'text', section: 'Name', hint: 'What the patient likes to be called' },
  { name: 'date_of_birth', label: 'Date of birth', kind: 'date', section: 'Name' },
  {
    name: 'sex_at_birth', label: 'Sex at birth', kind: 'select', section: 'Name',
    options: [
      { value: 'female', label: 'Female' },
      { value: 'male', label: 'Male' },
      { value: 'intersex', label: 'Intersex' },
      { value: 'unknown', label: 'Unknown' },
    ],
  },
  { name: 'gender', label: 'Gender', kind: 'text', section: 'Name' },
  { name: 'phone', label: 'Phone', kind: 'tel', section: 'Contact' },
  { name: 'alt_phone', label: 'Other phone', kind: 'tel', section: 'Contact' },
  { name: 'email', label: 'Email', kind: 'email', section: 'Contact' },
  {
    name: 'preferred_channel', label: 'Preferred contact', kind: 'select', section: 'Contact',
    options: [
      { value: 'sms', label: 'Text message' },
      { value: 'email', label: 'Email' },
      { value: 'phone', label: 'Phone call' },
      { value: 'post', label: 'Post' },
      { value: 'none', label: 'Do not contact' },
    ],
  },
  { name: 'reminders_opt_in', label: 'Appointment reminders', kind: 'yesno', section: 'Contact' },
  { name: 'address_line1', label: 'Address line 1', kind: 'text', section: 'Address' },
  { name: 'address_line2', label: 'Address line 2', kind: 'text', section: 'Address' },
  { name: 'city', label: 'Town or city', kind: 'text', section: 'Address' },
  { name: 'state', label: 'County or state', kind: 'text', section: 'Address' },
  { name: 'postcode', label: 'Postcode', kind: 'text', section: 'Address' },
  { name: 'country', label: 'Country', kind: 'text', section: 'Address' },
  { name: 'alert_level', label: 'Alert level', kind: 'select', section: 'Alerts', options: LEVELS },
  { name: 'flags', label: 'Alerts and flags', kind: 'flags', section: 'Alerts', hint: 'Separate with commas, e.g. Wheelchair user, Needs interpreter' },
  { name: 'national_id_kind', label: 'ID type', kind: 'select', section: 'Identity and preferences', options: ID_KINDS },
  { name: 'national_id', label: 'ID number', kind: 'text', section: 'Identity and preferences' },
  { name: 'preferred_language', label: 'Preferred language', kind: 'text', section: 'Identity and preferences' },
  { name: 'blood_group', label: 'Blood group', kind: 'text', section: 'Clinical background' },
  { name: 'smoking_status', label: 'Smoking', kind: 'text', section: 'Clinical background' },
  { name: 'alcohol_use', label: 'Alcohol', kind: 'text', section: 'Clinical background' },
  { name: 'risk_level', label: 'Risk level', kind: 'select', section: 'Clinical background', options: LEVELS },
  { name: 'family_history', label: 'Family history', kind: 'textarea', section: 'Clinical background' },
];

export const FIELD_NAMES: FieldName[] = FIELDS.map((f) => f.name);
export const FIELD_LABELS: Record<string, string> = Object.fromEntries(FIELDS.map((f) => [f.name, f.label]));
const SPEC = new Map(FIELDS.map((f) => [f.name, f]));

/** Every input holds a string ("" = empty); yes/no holds "yes" | "no" | "". */
export type FormValues = Record<FieldName, string>;

export function emptyValues(): FormValues {
  return Object.fromEntries(FIELD_NAMES.map((n) => [n, ''])) as FormValues;
}

export function valuesFrom(d: PatientDetails): FormValues {
  const v = emptyValues();
  for (const name of FIELD_NAMES) {
    const raw = d[name];
    if (name === 'flags') v.flags = (d.flags ?? []).join(', ');
    else if (name === 'reminders_opt_in') v.reminders_opt_in = raw === true ? 'yes' : raw === false ? 'no' : '';
    else v[name] = raw == null ? '' : String(raw);
  }
  return v;
}

function parseFlags(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}

/** Form strings -> the value PatientDetails holds for that key ("" -> null). */
function valueOf(name: FieldName, s: string): PatientDetails[FieldName] {
  const t = s.trim();
  if (name === 'flags') return parseFlags(t);
  if (name === 'reminders_opt_in') return t === 'yes' ? true : t === 'no' ? false : null;
  if (name === 'first_name' || name === 'last_name') return t;
  return t === '' ? null : t;
}

export function toDetails(v: FormValues): PatientDetails {
  const out: Record<string, unknown> = {};
  for (const name of FIELD_NAMES) out[name] = valueOf(name, v[name] ?? '');
  return out as PatientDetails;
}

/** Client-side checks: required names, obviously bad dates, email shape. */
export function validate(v: FormValues, today: string): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const f of FIELDS) {
    if (f.required && !(v[f.name] ?? '').trim()) errors[f.name] = 'is required';
  }
  const dob = (v.date_of_birth ?? '').trim();
  if (dob) {
    const p = dobProblem(dob, today);
    if (p) errors.date_of_birth = p;
  }
  const email = (v.email ?? '').trim();
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.email = 'does not look like an email address';
  return errors;
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const x = (a ?? []) as unknown[];
    const y = (b ?? []) as unknown[];
    return x.length === y.length && x.every((e, i) => e === y[i]);
  }
  return (a ?? null) === (b ?? null);
}

/**
 * Fields that were recorded and are now emptied but cannot be cleared by an
 * edit (a date, a choice, a yes/no: the store keeps the old value when sent
 * nothing). Refused next to the field instead of being silently ignored.
 */
export function unclearable(original: PatientDetails, v: FormValues): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const name of FIELD_NAMES) {
    const kind = SPEC.get(name)!.kind;
    const isText = kind === 'text' || kind === 'tel' || kind === 'email' || kind === 'textarea';
    if (isText || name === 'flags') continue;
    const before = original[name];
    if (before !== null && before !== undefined && valueOf(name, v[name] ?? '') === null) {
      errors[name] = 'cannot be removed once recorded: correct it instead';
    }
  }
  return errors;
}

/**
 * Only the keys whose value changed. A cleared text field is sent as ""
 * (the contract's "clear"); a cleared date, choice or yes/no as null.
 */
export function diffPatch(original: PatientDetails, v: FormValues): PatientPatch {
  const patch: Record<string, unknown> = {};
  for (const name of FIELD_NAMES) {
    const next = valueOf(name, v[name] ?? '');
    if (same(original[name], next)) continue;
    const kind = SPEC.get(name)!.kind;
    const isText = kind === 'text' || kind === 'tel' || kind === 'email' || kind === 'textarea';
    patch[name] = next === null && isText ? '' : next;
  }
  return patch as PatientPatch;
}
