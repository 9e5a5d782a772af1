// Generated from the Rust types (src-tauri/src/bindings.rs); do not edit.
// After changing a Rust type: UPDATE_BINDINGS=1 cargo test -p clinic-desktop bindings

export type ErrorCode = "VALIDATION" | "NOT_FOUND" | "FORBIDDEN" | "INVALID_CREDENTIALS" | "ACCOUNT_LOCKED" | "RATE_LIMITED" | "MFA_REQUIRED" | "WRONG_KEY" | "KEY_UNAVAILABLE" | "KEYCHAIN_MISMATCH" | "STORE_MISSING" | "STORE_EXISTS" | "STORE_CORRUPT" | "SCHEMA_TOO_NEW" | "CONFLICT" | "NUMBERS_EXHAUSTED" | "AUDIT_CHAIN_BROKEN" | "SESSION_LOCKED" | "UNREACHABLE" | "UPDATE_REQUIRED" | "PASSWORD_CHANGE_REQUIRED" | "CREDENTIAL_EXPIRED" | "CONFIRMATION_NEEDED" | "SAFETY_WARNING" | "SIGNATURE_MISMATCH" | "ALREADY_ISSUED" | "OVER_REFUND" | "PERIOD_CLOSED" | "INTERNAL";

export type FieldError = { field: string, message: string, };

export type ClinicError = { code: ErrorCode, message: string, fields?: Array<FieldError>, };

export type Stage = "setup" | "locked" | "sign_in" | "ready";

export type SessionView = { user_id: string, email: string, name: string, roles: Array<string>, can_register: boolean, can_edit: boolean, can_book: boolean, 
/**
 * May open charts and write notes (clinical records and the medical history).
 */
can_document: boolean, 
/**
 * Sees invoices and balances (billing with the financial-data flag).
 */
can_bill: boolean, 
/**
 * Drafts, issues and takes payment.
 */
can_take_payment: boolean, 
/**
 * Sees the stock list, lots, orders and alerts (inventory).
 */
can_view_stock: boolean, 
/**
 * Dispenses, receives deliveries and counts stock.
 */
can_dispense: boolean, 
/**
 * Adjusts and writes off stock, moves it between lots, posts
 * stocktakes, marks orders sent.
 */
can_manage_stock: boolean, 
/**
 * Approves purchase orders (they spend money: the financial-data flag).
 */
can_approve_orders: boolean, 
/**
 * Cancels purchase orders.
 */
can_cancel_orders: boolean, is_admin: boolean, 
/**
 * An administrator reset the password: a new one first.
 */
must_change_password: boolean, };

export type AppState = { stage: Stage, data_dir: string, clinic_name: string | null, site_name: string | null, device_name: string | null, enrolled: boolean, 
/**
 * The OS keychain can unlock this store.
 */
keychain: boolean, user: SessionView | null, idle_lock_minutes: number, 
/**
 * The clinic's locale (a synced setting): how every screen writes and
 * reads dates, times and numbers ("en-GB" until the store is open).
 */
locale: string, 
/**
 * Staff who signed in here can unlock it with their own password
 * (`unlock_as`); the store passphrase is then for administrators.
 */
staff_unlock: boolean, };

export type RoleChoice = { key: string, name: string, };

export type SexAtBirth = "female" | "male" | "intersex" | "unknown";

export type Severity = "mild" | "moderate" | "severe" | "life_threatening";

export type AllergyCode = { "substance": string } | { "class": string };

export type Level = "none" | "low" | "medium" | "high";

export type ContactChannel = "sms" | "email" | "phone" | "post" | "none";

export type NationalIdKind = "nhs" | "ca_sin" | "nl_bsn" | "se_personnummer" | "us_ssn" | "other";

export type SensitiveFlag = "sensitive_info" | "financial_data" | "medical_history";

export type PatientDetails = { first_name: string, middle_name: string | null, last_name: string, preferred_name: string | null, date_of_birth: string | null, sex_at_birth: SexAtBirth | null, gender: string | null, phone: string | null, alt_phone: string | null, email: string | null, address_line1: string | null, address_line2: string | null, city: string | null, state: string | null, postcode: string | null, 
/**
 * ISO 3166-1 alpha-2, upper case.
 */
country: string | null, national_id_kind: NationalIdKind | null, national_id: string | null, preferred_channel: ContactChannel | null, preferred_language: string | null, reminders_opt_in: boolean | null, blood_group: string | null, smoking_status: string | null, alcohol_use: string | null, family_history: string | null, risk_level: Level | null, alert_level: Level | null, 
/**
 * Short front-desk flags, e.g. "wheelchair", "interpreter: Polish".
 */
flags: Array<string>, };

export type Allergy = { id: string, substance: string, reaction: string | null, severity: Severity, 
/**
 * The substance or class of the medication table it names, when its
 * name is there (prescribing checks use it); none: uncoded free text,
 * which the checks report as not checked.
 */
code?: AllergyCode, };

export type Condition = { id: string, name: string, icd10: string | null, active: boolean, onset: string | null, };

export type Medication = { id: string, name: string, dose: string | null, frequency: string | null, started_on: string | null, };

export type InsuranceCoverage = { id: string, provider: string, policy_number: string | null, group_number: string | null, member_number: string | null, plan: string | null, valid_from: string | null, valid_to: string | null, 
/**
 * Exact decimal amount as text, e.g. "15.00".
 */
copay: string | null, is_primary: boolean, };

export type EmergencyContact = { id: string, name: string, relationship: string | null, phone: string | null, email: string | null, };

export type Consent = { id: string, 
/**
 * e.g. "treatment", "data_processing", "sms_reminders", "research".
 */
kind: string, purpose: string | null, given_on: string, withdrawn_on: string | null, };

export type PatientLists = { allergies: Array<Allergy>, conditions: Array<Condition>, medications: Array<Medication>, insurances: Array<InsuranceCoverage>, emergency_contacts: Array<EmergencyContact>, consents: Array<Consent>, };

export type Patient = { id: string, tenant_id: string, patient_number: string, created_at: string, updated_at: string, 
/**
 * Set when archived (soft delete). Archived patients leave lists and searches.
 */
archived_at: string | null, 
/**
 * Set when this record was merged into another (the survivor).
 */
merged_into: string | null, 
/**
 * Why it was archived (free text: kept with the record, never in the audit trail).
 */
archive_reason?: string | null, 
/**
 * The survivor's patient number, for people (ids are for machines).
 */
merged_into_number?: string | null, 
/**
 * Groups of fields withheld from the viewer by their role.
 */
redacted?: Array<SensitiveFlag>, first_name: string, middle_name: string | null, last_name: string, preferred_name: string | null, date_of_birth: string | null, sex_at_birth: SexAtBirth | null, gender: string | null, phone: string | null, alt_phone: string | null, email: string | null, address_line1: string | null, address_line2: string | null, city: string | null, state: string | null, postcode: string | null, 
/**
 * ISO 3166-1 alpha-2, upper case.
 */
country: string | null, national_id_kind: NationalIdKind | null, national_id: string | null, preferred_channel: ContactChannel | null, preferred_language: string | null, reminders_opt_in: boolean | null, blood_group: string | null, smoking_status: string | null, alcohol_use: string | null, family_history: string | null, risk_level: Level | null, alert_level: Level | null, 
/**
 * Short front-desk flags, e.g. "wheelchair", "interpreter: Polish".
 */
flags: Array<string>, allergies: Array<Allergy>, conditions: Array<Condition>, medications: Array<Medication>, insurances: Array<InsuranceCoverage>, emergency_contacts: Array<EmergencyContact>, consents: Array<Consent>, };

export type NewAllergy = { substance: string, reaction: string | null, severity: Severity, };

export type NewCondition = { name: string, icd10: string | null, active: boolean, onset: string | null, };

export type NewMedication = { name: string, dose: string | null, frequency: string | null, started_on: string | null, };

export type NewInsurance = { provider: string, policy_number: string | null, group_number: string | null, member_number: string | null, plan: string | null, valid_from: string | null, valid_to: string | null, copay: string | null, is_primary: boolean, };

export type NewEmergencyContact = { name: string, relationship: string | null, phone: string | null, email: string | null, };

export type NewConsent = { kind: string, purpose: string | null, given_on: string, withdrawn_on: string | null, };

export type NewLists = { allergies: Array<NewAllergy>, conditions: Array<NewCondition>, medications: Array<NewMedication>, insurances: Array<NewInsurance>, emergency_contacts: Array<NewEmergencyContact>, consents: Array<NewConsent>, };

export type PatientPatch = { first_name: string | null, middle_name: string | null, last_name: string | null, preferred_name: string | null, date_of_birth: string | null, sex_at_birth: SexAtBirth | null, gender: string | null, phone: string | null, alt_phone: string | null, email: string | null, address_line1: string | null, address_line2: string | null, city: string | null, state: string | null, postcode: string | null, country: string | null, national_id_kind: NationalIdKind | null, national_id: string | null, preferred_channel: ContactChannel | null, preferred_language: string | null, reminders_opt_in: boolean | null, blood_group: string | null, smoking_status: string | null, alcohol_use: string | null, family_history: string | null, risk_level: Level | null, alert_level: Level | null, 
/**
 * Replaces all flags (use `add_flags`/`remove_flags` to change some).
 */
flags: Array<string> | null, add_flags: Array<string>, remove_flags: Array<string>, add: NewLists, remove_ids: Array<string>, };

export type DuplicateCandidate = { patient_id: string, patient_number: string, first_name: string, last_name: string, date_of_birth: string | null, score: number, reasons: Array<string>, };

export type PatientHit = { id: string, patient_number: string, first_name: string, last_name: string, preferred_name: string | null, date_of_birth: string | null, phone: string | null, score: number, };

export type AppointmentStatus = "scheduled" | "confirmed" | "arrived" | "in_progress" | "completed" | "cancelled" | "no_show" | "rescheduled";

export type AppointmentView = { id: string, patient_id: string, patient_name: string, patient_number: string, clinician_id: string, clinician_name: string, room_id: string | null, room_name: string | null, type_name: string, colour: string | null, start_local: string, end_local: string, 
/**
 * "Mon 23 Nov 09:30–10:00".
 */
label: string, minutes: number, status: AppointmentStatus, status_reason: string | null, notes: string | null, 
/**
 * Why it is a double booking waiting in the inbox.
 */
conflict: string | null, double_booking_accepted: boolean, outside_hours: boolean, 
/**
 * The statuses a person may move it to now.
 */
next_statuses: Array<AppointmentStatus>, 
/**
 * Changes made to it that the server did not apply (another desk's
 * came first), kept so that nothing reported done is out of sight.
 */
not_applied: Array<NotAppliedView>, };

export type NotAppliedView = { 
/**
 * "change appointment".
 */
what: string, by: string | null, 
/**
 * When it was made, in the site's wall-clock time.
 */
at_local: string, 
/**
 * Why it was not applied.
 */
message: string, 
/**
 * What it carried, in words ("to: cancelled · reason: clinician ill").
 */
carried: string, };

export type PatientSummary = { patient: Patient, upcoming: Array<AppointmentView>, past: Array<AppointmentView>, 
/**
 * Changes to the record that the server did not apply as made.
 */
not_applied: Array<NotAppliedView>, };

export type Resource = { id: string, name: string, };

export type WorkingSpan = { clinician_id: string, start_local: string, end_local: string, };

export type TypeView = { name: string, minutes: number, colour: string | null, };

export type CalendarView = { site_id: string, site_name: string, timezone: string, 
/**
 * Today at the site, "YYYY-MM-DD".
 */
today: string, 
/**
 * Now at the site, "YYYY-MM-DDTHH:MM:SS" (where the day view opens).
 */
now_local: string, clinicians: Array<Resource>, rooms: Array<Resource>, appointments: Array<AppointmentView>, 
/**
 * Working time of clinicians who have a schedule at this site.
 */
working: Array<WorkingSpan>, 
/**
 * The clinicians who have working hours set at this site (the others
 * can be booked at any time).
 */
with_hours: Array<string>, types: Array<TypeView>, };

export type Slot = { start_local: string, end_local: string, label: string, };

export type BookingConflictRow = { appointment: AppointmentView, reason: string, overlaps: Array<AppointmentView>, };

export type RefusedChange = { device_seq: number, kind: string, message: string, made_at: string, 
/**
 * `conflict` (someone else's change came first) or `rejected` (not allowed).
 */
status: string, 
/**
 * Who made it, by name.
 */
made_by: string | null, 
/**
 * What it was about, as a person reads it ("Ada Lovelace (P0000013)").
 */
about: string | null, };

export type ConflictsView = { bookings: Array<BookingConflictRow>, refused: Array<RefusedChange>, };

export type UserView = { id: string, email: string, name: string, roles: Array<string>, disabled: boolean, };

export type DeviceRow = { id: string, name: string, site_name: string, 
/**
 * Who enrolled it (their name when this store knows them).
 */
enrolled_by: string, enrolled_at: string, 
/**
 * When it last synced.
 */
last_seen_at: string | null, revoked_at: string | null, 
/**
 * The workstation this list is shown on.
 */
this_device: boolean, };

export type Progress = { done: number, total: number, };

export type SyncView = { enrolled: boolean, 
/**
 * The last exchange with the server succeeded, recently.
 */
online: boolean, server: string | null, pending: number, last_success: string | null, last_error: string | null, open_conflicts: number, 
/**
 * A first download (or a sync started by hand) is running.
 */
syncing: boolean, progress: Progress | null, 
/**
 * Whose changes wait for them to sign in here ("2 changes wait for
 * Rita Okafor to sign in on this desk"), when someone's do.
 */
waiting_for_signature: string | null, };

export type SettingsView = { data_dir: string, log_dir: string, version: string, server_url: string | null, device_id: string | null, device_name: string | null, clinic_name: string | null, site_name: string | null, timezone: string | null, keychain_linked: boolean, };

export type ResolveAction = "accept" | "cancel" | "move";

export type EncounterStatus = "draft" | "signed";

export type Vitals = { 
/**
 * Blood pressure, mmHg.
 */
systolic_mmhg: number | null, diastolic_mmhg: number | null, 
/**
 * Heart rate, beats per minute.
 */
pulse_bpm: number | null, 
/**
 * Body temperature, °C, one decimal.
 */
temperature_c: number | null, 
/**
 * Oxygen saturation, %.
 */
spo2_pct: number | null, 
/**
 * Body weight, kg, one decimal.
 */
weight_kg: number | null, 
/**
 * Height, cm, one decimal.
 */
height_cm: number | null, 
/**
 * Body-mass index, kg/m², one decimal: derived, never typed.
 */
bmi: number | null, };

export type Diagnosis = { id: string, code: string | null, text: string, };

export type DayRow = { appointment_id: string, 
/**
 * The site's wall-clock time, "HH:MM".
 */
start_local: string, end_local: string, patient_id: string, patient_name: string, patient_number: string, appointment_type: string, status: AppointmentStatus, encounter_id: string | null, encounter_status: EncounterStatus | null, };

export type WalkInRow = { encounter_id: string, started_local: string, patient_id: string, patient_name: string, encounter_status: EncounterStatus, };

export type ClinicianDayView = { date: string, clinician: string, rows: Array<DayRow>, walk_ins: Array<WalkInRow>, };

export type ChartEncounter = { id: string, started_local: string, status: EncounterStatus, encounter_type: string, clinician: string, chief_complaint: string, assessment: string, diagnoses: Array<string>, };

export type VitalsRow = { at_local: string, vitals: Vitals, text: string, };

export type ChartView = { patient_id: string, name: string, patient_number: string, date_of_birth: string | null, problems: Array<Condition>, allergies: Array<Allergy>, medications: Array<Medication>, 
/**
 * Groups of the record the person's role does not show.
 */
redacted: Array<SensitiveFlag>, encounters: Array<ChartEncounter>, 
/**
 * Oldest first.
 */
vitals: Array<VitalsRow>, };

export type SiblingView = { revision: string, text: string, by: string, at_local: string, };

export type NoteField = { field: string, label: string, 
/**
 * What the person sees: their autosaved draft, else the current text.
 */
text: string, 
/**
 * The note's own current text.
 */
saved_text: string, 
/**
 * When their draft was autosaved (`None`: no draft: the text is the note's).
 */
draft_saved_at_local: string | null, siblings: Array<SiblingView>, };

export type SignatureView = { by: string, at_local: string, content_sha256: string, valid: boolean, };

export type AddendumView = { by: string, at_local: string, text: string, };

export type PrescriptionStatus = "active" | "completed" | "cancelled";

export type PrescriptionLine = { 
/**
 * The medicine as prescribed ("Amoxicillin").
 */
drug: string, 
/**
 * Its key in the medication table, when it is there.
 */
substance: string | null, strength: string, form: string, 
/**
 * "1 capsule", "5 ml".
 */
dose: string, route: string, 
/**
 * "three times a day".
 */
frequency: string, days: number, quantity: string, refills: number, };

export type SafetySeverity = "minor" | "moderate" | "severe" | "contraindicated";

export type WarningKind = "allergy" | "cross_reactivity" | "interaction" | "duplicate" | "not_checked";

export type SafetyWarning = { kind: WarningKind, severity: SafetySeverity, message: string, drugs: Array<string>, allergy: string | null, };

export type PrescriptionView = { id: string, number: string, status: PrescriptionStatus, lines: Array<PrescriptionLine>, instructions: string, warnings: Array<SafetyWarning>, override_reason: string | null, };

export type RevisionView = { field: string, text: string, by: string, at_local: string, };

export type NoteView = { id: string, patient_id: string, patient_name: string, patient_number: string, clinician: string, encounter_type: string, status: EncounterStatus, started_local: string, fields: Array<NoteField>, vitals: Vitals, vitals_text: string, diagnoses: Array<Diagnosis>, signature: SignatureView | null, addenda: Array<AddendumView>, prescriptions: Array<PrescriptionView>, 
/**
 * Every value each field held, oldest first.
 */
revisions: Array<RevisionView>, 
/**
 * The person's draft addendum (text kept from an edit the signature
 * came before, or one they began).
 */
addendum_draft: string | null, appointment_conflict: string | null, 
/**
 * The signed-in person may sign it (their note, a draft, no siblings).
 */
can_sign: boolean, 
/**
 * Changes to the note the server did not apply (kept, shown).
 */
not_applied: Array<NotAppliedView>, };

export type DraftSaved = { field: string, saved_at_local: string, };

export type CreateStoreReq = { clinic_name: string, admin_name: string, admin_email: string, admin_password: string, passphrase: string, };

export type EnrollReq = { server_url: string, fingerprint: string | null, tenant: string, email: string, password: string, device_name: string, passphrase: string, };

export type UnlockReq = { passphrase: string | null, };

export type SignInReq = { email: string, password: string, };

export type ChangePasswordReq = { current: string, new: string, };

export type SearchReq = { query: string, limit: number, };

export type IdReq = { id: string, };

export type DetailsReq = { details: PatientDetails, };

export type UpdatePatientReq = { id: string, patch: PatientPatch, };

export type CalendarReq = { from: string, to: string, };

export type SlotsReq = { clinician_id: string, minutes: number, from_local: string, count: number, };

export type HoursLine = { weekday: number, 
/**
 * "09:00"
 */
start: string, 
/**
 * "17:30"
 */
end: string, };

export type LeaveLine = { id: string, 
/**
 * "leave" or "blocked"
 */
kind: string, start_local: string, end_local: string, reason: string | null, };

export type ClinicianSetup = { id: string, name: string, hours: Array<HoursLine>, leave: Array<LeaveLine>, };

export type RoomLine = { id: string, name: string, kind: string, };

export type TypeLine = { id: string, name: string, minutes: number, 
/**
 * "#rrggbb"
 */
colour: string, archived: boolean, };

export type SetupView = { site_name: string, timezone: string, clinicians: Array<ClinicianSetup>, rooms: Array<RoomLine>, types: Array<TypeLine>, 
/**
 * May save hours, leave and appointment types (administration edit).
 */
can_edit: boolean, 
/**
 * May add and rename rooms (a full administrator: premises).
 */
can_edit_rooms: boolean, };

export type HoursReq = { clinician_id: string, hours: Array<HoursLine>, };

export type LeaveReq = { clinician_id: string, kind: string, start_local: string, end_local: string, reason: string | null, };

export type RemoveLeaveReq = { clinician_id: string, id: string, };

export type RoomReq = { id: string | null, name: string, kind: string, };

export type TypeReq = { line: TypeLine, };

export type BookReq = { patient_id: string, clinician_id: string, start_local: string, minutes: number | null, type_name: string | null, room_id: string | null, notes: string | null, override_checks: boolean, };

export type MoveReq = { id: string, start_local: string, clinician_id: string | null, override_checks: boolean, };

export type StatusReq = { id: string, status: AppointmentStatus, reason: string | null, };

export type ResolveReq = { appointment_id: string, action: ResolveAction, reason: string | null, start_local: string | null, };

export type SeqReq = { device_seq: number, };

export type AddUserReq = { email: string, name: string, role: string, password: string, };

export type DisableReq = { email: string, disabled: boolean, };

export type UserRolesReq = { email: string, roles: Array<string>, };

export type ServerAdminReq = { password: string, totp: string | null, };

export type RevokeDeviceReq = { id: string, password: string, totp: string | null, };

export type DayReq = { date: string | null, };

export type StartEncounterReq = { patient_id: string, appointment_id: string | null, encounter_type: string | null, };

export type DraftReq = { id: string, field: string, text: string, };

export type VitalsReq = { id: string, bp: string | null, pulse: number | null, temperature: number | null, spo2: number | null, weight: number | null, height: number | null, confirm: boolean, };

export type NewDiagnosis = { code: string | null, text: string, };

export type DiagnosesReq = { id: string, add: Array<NewDiagnosis>, remove: Array<string>, };

export type AddendumReq = { id: string, text: string, };

export type ResolveSiblingReq = { id: string, field: string, text: string, resolves: Array<string>, };

export type PrescriptionReq = { 
/**
 * The encounter.
 */
id: string, lines: Array<PrescriptionLine>, instructions: string, override_reason: string | null, };

export type EndPrescriptionReq = { id: string, to: PrescriptionStatus, reason: string | null, };

export type InvoiceStatus = "draft" | "discarded" | "issued" | "partially_paid" | "paid" | "void";

export type LineInput = { 
/**
 * The price-list item it was taken from (`None`: free text).
 */
item: string | null, code: string | null, description: string, quantity: string, unit_price: string, tax_rate: string, discount_percent: string, 
/**
 * The discount code that set `discount_percent` (counted as used when
 * the invoice is issued).
 */
discount_code?: string | null, };

export type InvoiceLine = { 
/**
 * quantity × unit price.
 */
gross: string, 
/**
 * The line's own discount plus its share of the invoice discount.
 */
discount: string, 
/**
 * The tax on the line (included in `gross` when prices include tax).
 */
tax: string, 
/**
 * What the line adds to the total.
 */
total: string, 
/**
 * The price-list item it was taken from (`None`: free text).
 */
item: string | null, code: string | null, description: string, quantity: string, unit_price: string, tax_rate: string, discount_percent: string, 
/**
 * The discount code that set `discount_percent` (counted as used when
 * the invoice is issued).
 */
discount_code?: string | null, };

export type Totals = { 
/**
 * Σ gross.
 */
subtotal: string, 
/**
 * Σ discount.
 */
discount: string, 
/**
 * Σ tax.
 */
tax: string, 
/**
 * Σ line totals: subtotal − discount + tax, or subtotal − discount
 * when prices include tax.
 */
total: string, };

export type BillingPrint = { patient_name: string, patient_number: string, date_of_birth: string | null, patient_address: Array<string>, clinic_name: string, legal_name: string, clinic_address: Array<string>, phone: string | null, email: string | null, tax_id: string | null, payment_terms: string, footer: string, 
/**
 * The locale it was printed in.
 */
locale: string, };

export type EntryKind = "payment" | "refund" | "credit_note";

export type MoneyEntry = { 
/**
 * The payment, refund or credit note.
 */
id: string, kind: EntryKind, amount: string, 
/**
 * A refund's payment.
 */
refund_of: string | null, 
/**
 * A credit note's lines (indexes into the invoice's lines; empty: all).
 */
lines: Array<number>, at: string, };

export type Resolution = { by: string, at: string, note: string, 
/**
 * Where a document that arrived after its period closed was posted
 * (the first open period; the document keeps its own date).
 */
posted_on: string | null, };

export type MoneyConflict = { 
/**
 * The entry that made it.
 */
entry: string, 
/**
 * `OVER_REFUND`, `OVER_CREDIT`, `LINE_CREDITED_TWICE`, `NOT_ISSUED`,
 * `PERIOD_CLOSED`.
 */
code: string, message: string, at: string, resolved: Resolution | null, };

export type Invoice = { id: string, tenant_id: string, patient_id: string, appointment_id: string | null, encounter_id: string | null, status: InvoiceStatus, 
/**
 * The human number, from issue (`INV-000123`).
 */
number: string | null, currency: string, prices_include_tax: boolean, lines: Array<InvoiceLine>, 
/**
 * A discount on every line, after the line's own.
 */
discount_percent: string, notes: string, totals: Totals, created_by: string, created_at: string, issued_by: string | null, issued_at: string | null, issued_on: string | null, due_on: string | null, 
/**
 * What it printed, from issue.
 */
print: BillingPrint | null, void_reason: string | null, entries: Array<MoneyEntry>, paid: string, refunded: string, credited: string, conflicts: Array<MoneyConflict>, updated_at: string, };

export type PaymentMethod = "cash" | "card" | "bank_transfer" | "insurance" | "credit";

export type PaymentKind = "payment" | "refund";

export type Payment = { id: string, tenant_id: string, patient_id: string, invoice_id: string, kind: PaymentKind, method: PaymentMethod, 
/**
 * Always positive; a refund's direction is its kind.
 */
amount: string, currency: string, 
/**
 * The day the money was received or paid back (site's calendar).
 */
received_on: string, 
/**
 * The card terminal's or bank's reference.
 */
reference: string | null, 
/**
 * A refund's payment.
 */
refund_of: string | null, 
/**
 * Why a refund was made.
 */
reason: string | null, 
/**
 * The receipt's number (`RCT-000045`); none for a transfer of credit.
 */
receipt_number: string | null, 
/**
 * The invoice's number when the money was taken.
 */
invoice_number: string | null, recorded_by: string, recorded_at: string, 
/**
 * What the receipt printed.
 */
print: BillingPrint, 
/**
 * The workstation that took or paid it back (its cash-up counts it).
 */
desk_id: string | null, };

export type CreditNote = { id: string, tenant_id: string, invoice_id: string, patient_id: string, 
/**
 * `CN-000012`.
 */
number: string, invoice_number: string, 
/**
 * The invoice's lines it credits (indexes; empty: every line).
 */
line_indexes: Array<number>, 
/**
 * Copies of the credited lines, as the invoice priced them.
 */
lines: Array<InvoiceLine>, totals: Totals, currency: string, reason: string, issued_by: string, issued_at: string, issued_on: string, print: BillingPrint, };

export type PriceKind = "service" | "stock_item";

export type PriceVersion = { from: string, price: string, tax_rate: string, };

export type ClaimStatus = "pending" | "approved" | "partially_paid" | "denied";

export type InsuranceClaim = { id: string, tenant_id: string, 
/**
 * `CLM-000012`.
 */
number: string, invoice_id: string, invoice_number: string, patient_id: string, provider: string, policy_number: string | null, currency: string, claimed: string, 
/**
 * What the insurer approved so far (posted as insurance payments).
 */
approved: string, status: ClaimStatus, submitted_on: string, decided_on: string | null, 
/**
 * The insurer's reason (a denial's is required).
 */
reason: string | null, 
/**
 * The insurance payments its approvals posted.
 */
payments: Array<string>, created_by: string, created_at: string, updated_at: string, };

export type Every = "week" | "month";

export type Instalment = { 
/**
 * 1-based.
 */
n: number, due_on: string, amount: string, };

export type InstalmentPlan = { 
/**
 * [`InstalmentPlan::id_for`] the invoice: one plan per invoice.
 */
id: string, tenant_id: string, invoice_id: string, invoice_number: string, patient_id: string, currency: string, 
/**
 * The invoice's balance when the plan was made: what it spreads.
 */
amount: string, every: Every, instalments: Array<Instalment>, created_by: string, created_at: string, };

export type PlanStatus = "active" | "completed" | "defaulted";

export type PlanProgress = { status: PlanStatus, 
/**
 * Paid toward the plan: what it spreads less the invoice's balance.
 */
paid: string, 
/**
 * Due by the day and not paid.
 */
overdue: string, 
/**
 * The instalments due by the day and not (fully) paid.
 */
overdue_instalments: Array<number>, 
/**
 * The next instalment not yet due.
 */
next: Instalment | null, };

export type PeriodClose = { 
/**
 * Closed up to and including this day.
 */
until: string, by: string, at: string, 
/**
 * The desks that had not synced since the period ended when it was
 * closed (what may still arrive), as the manager was shown them.
 */
unsynced_desks: Array<string>, note: string, };

export type PeriodLock = { 
/**
 * [`PeriodLock::id_for`] the tenant.
 */
id: string, tenant_id: string, 
/**
 * Every day up to this one is closed.
 */
closed_until: string, 
/**
 * Each close, oldest first.
 */
closes: Array<PeriodClose>, updated_at: string, };

export type CashUpLine = { method: PaymentMethod, 
/**
 * Payments less refunds on this desk for the day.
 */
expected: string, counted: string, 
/**
 * counted − expected.
 */
difference: string, };

export type CashUp = { 
/**
 * [`CashUp::id_for`] the desk and day.
 */
id: string, tenant_id: string, desk_id: string, desk_name: string, day: string, currency: string, lines: Array<CashUpLine>, 
/**
 * The payments and refunds it counted (a later one for the day is late).
 */
payments: Array<string>, 
/**
 * Why the count differs (required when it does).
 */
reason: string | null, closed_by: string, closed_at: string, };

export type PriceView = { id: string, code: string, name: string, kind: PriceKind, appointment_type: string | null, sku: string | null, 
/**
 * Today's price (`None`: none valid yet).
 */
price: string | null, tax_rate: string | null, active: boolean, prices: Array<PriceVersion>, };

export type InvoiceView = { patient_name: string, patient_number: string, 
/**
 * `total − credited − paid + refunded` (negative: credit).
 */
balance: string, payments: Array<Payment>, credit_notes: Array<CreditNote>, 
/**
 * The patient's credit across all their invoices.
 */
patient_credit: string, 
/**
 * Lines not yet credited (indexes), for a credit note.
 */
creditable_lines: Array<number>, id: string, tenant_id: string, patient_id: string, appointment_id: string | null, encounter_id: string | null, status: InvoiceStatus, 
/**
 * The human number, from issue (`INV-000123`).
 */
number: string | null, currency: string, prices_include_tax: boolean, lines: Array<InvoiceLine>, 
/**
 * A discount on every line, after the line's own.
 */
discount_percent: string, notes: string, totals: Totals, created_by: string, created_at: string, issued_by: string | null, issued_at: string | null, issued_on: string | null, due_on: string | null, 
/**
 * What it printed, from issue.
 */
print: BillingPrint | null, void_reason: string | null, entries: Array<MoneyEntry>, paid: string, refunded: string, credited: string, conflicts: Array<MoneyConflict>, updated_at: string, };

export type InvoiceRow = { id: string, number: string | null, status: InvoiceStatus, patient_id: string, patient_name: string, patient_number: string, created_at: string, issued_on: string | null, due_on: string | null, currency: string, total: string, balance: string, open_conflicts: number, };

export type AccountView = { patient_id: string, patient_name: string, patient_number: string, currency: string, owed: string, credit: string, open_invoices: number, };

export type MoneyFormat = { currency: string, locale: string, digits: number, };

export type AgeingBucket = { label: string, owed: string, invoices: number, };

export type Ageing = { on: string, currency: string, buckets: Array<AgeingBucket>, total: string, };

export type BillingHome = { invoices: Array<InvoiceRow>, money: MoneyFormat, 
/**
 * Owed to the clinic, and held in credit by patients, over all invoices.
 */
owed: string, credit: string, 
/**
 * The price list offered for new invoices.
 */
prices: Array<PriceView>, 
/**
 * May close the books (the period close screen).
 */
can_close_period: boolean, 
/**
 * What is owed by age (managers: those who correct invoices).
 */
ageing: Ageing | null, };

export type PaymentRow = { id: string, kind: PaymentKind, method: PaymentMethod, method_label: string, amount: string, received_on: string, receipt_number: string | null, reason: string | null, 
/**
 * For a payment: what may still be refunded.
 */
refundable: string | null, };

export type ClaimView = { patient_name: string, invoice_balance: string, id: string, tenant_id: string, 
/**
 * `CLM-000012`.
 */
number: string, invoice_id: string, invoice_number: string, patient_id: string, provider: string, policy_number: string | null, currency: string, claimed: string, 
/**
 * What the insurer approved so far (posted as insurance payments).
 */
approved: string, status: ClaimStatus, submitted_on: string, decided_on: string | null, 
/**
 * The insurer's reason (a denial's is required).
 */
reason: string | null, 
/**
 * The insurance payments its approvals posted.
 */
payments: Array<string>, created_by: string, created_at: string, updated_at: string, };

export type PlanView = { plan: InstalmentPlan, progress: PlanProgress, patient_name: string, };

export type InvoiceScreen = { view: InvoiceView, money: MoneyFormat, payments: Array<PaymentRow>, 
/**
 * The price list (for a draft's lines).
 */
prices: Array<PriceView>, 
/**
 * Edits a draft; records an insurer's decision on a claim.
 */
can_edit: boolean, 
/**
 * Takes payment; claims from an insurer; sets up an instalment plan.
 */
can_take_payment: boolean, 
/**
 * Refunds, credit notes, voiding, settling conflicts (managers).
 */
can_correct: boolean, 
/**
 * Today at the site (a plan's first instalment, a decision's day).
 */
today: string, 
/**
 * Its claims to insurers, newest first.
 */
claims: Array<ClaimView>, 
/**
 * Its instalment plan, where it stands today.
 */
plan: PlanView | null, };

export type Billable = { appointment_id: string | null, encounter_id: string | null, type_name: string, start: string, };

export type PatientAccount = { account: AccountView, money: MoneyFormat, 
/**
 * Their invoices, newest first (issued and drafts).
 */
invoices: Array<InvoiceRow>, 
/**
 * Completed appointments not invoiced yet.
 */
billable: Array<Billable>, 
/**
 * Their instalment plans with an instalment due by today and not paid.
 */
overdue_plans: Array<PlanView>, 
/**
 * Today at the site.
 */
today: string, };

export type BillingFrame = { money: MoneyFormat, today: string, 
/**
 * Takes payment, claims, plans, and closes this desk's day.
 */
can_take_payment: boolean, 
/**
 * Records insurers' decisions.
 */
can_decide_claims: boolean, 
/**
 * Closes the books (administration edit with the financial-data flag).
 */
can_close_period: boolean, };

export type ClaimsScreen = { frame: BillingFrame, claims: Array<ClaimView>, };

export type Takings = { method: PaymentMethod, 
/**
 * Payments taken.
 */
taken: string, 
/**
 * Refunds paid back.
 */
refunded: string, 
/**
 * taken − refunded: what the drawer (or terminal) should hold.
 */
expected: string, count: number, };

export type LatePayment = { payment_id: string, receipt_number: string | null, day: string, kind: PaymentKind, method: PaymentMethod, amount: string, };

export type CashUpView = { day: string, desk_id: string, desk_name: string, currency: string, takings: Array<Takings>, expected_total: string, closed: CashUp | null, 
/**
 * Payments for this desk's closed days that came after the close.
 */
late: Array<LatePayment>, };

export type CashUpScreen = { frame: BillingFrame, day: CashUpView, };

export type PeriodScreen = { frame: BillingFrame, lock: PeriodLock | null, 
/**
 * The last day of the previous month.
 */
suggested_until: string, };

export type UnsyncedDesk = { id: string, name: string, 
/**
 * `None`: never synced.
 */
last_synced_at: string | null, };

export type PeriodClosing = { until: string, 
/**
 * Closed before this (`None`: never closed).
 */
closed_until_before: string | null, 
/**
 * The desks that have not synced since the period ended: what they
 * hold dated inside it will arrive as conflicts to post.
 */
unsynced_desks: Array<UnsyncedDesk>, 
/**
 * Whether the close was made (`false`: a preview).
 */
closed: boolean, 
/**
 * Whether the server has it already (`false`: it goes with the next
 * sync; this desk refuses documents dated inside it meanwhile).
 */
sent: boolean, };

export type CountedReq = { method: PaymentMethod, amount: string, };

export type Printed = { path: string, opened: boolean, };

export type PrintKind = "invoice" | "receipt" | "credit_note";

export type LineReq = { code: string | null, description: string | null, quantity: string, unit_price: string | null, discount_percent: string | null, tax_rate: string | null, };

export type InvoicesReq = { patient_id: string | null, status: string | null, unpaid_only: boolean, conflicts_only: boolean, from: string | null, to: string | null, limit: number, };

export type CreateInvoiceReq = { patient_id: string, appointment_id: string | null, lines: Array<LineReq>, discount: string | null, };

export type EditInvoiceReq = { id: string, lines: Array<LineReq>, discount: string | null, notes: string, };

export type ReasonReq = { id: string, reason: string, };

export type PaymentReq = { invoice_id: string, amount: string, method: PaymentMethod, reference: string | null, 
/**
 * The day the money was received (null: today).
 */
received_on: string | null, };

export type RefundReq = { payment_id: string, amount: string, reason: string, };

export type CreditReq = { id: string, lines: Array<number>, reason: string, };

export type MoneyConflictReq = { invoice_id: string, entry: string, note: string, };

export type PrintReq = { kind: PrintKind, id: string, };

export type ClaimsReq = { open_only: boolean, };

export type AddClaimReq = { invoice_id: string, provider: string, amount: string, policy_number: string | null, };

export type DecideClaimReq = { claim_id: string, status: ClaimStatus, 
/**
 * The total approved so far (null with a denial).
 */
approved: string | null, reason: string | null, 
/**
 * The day of the decision (null: today).
 */
date: string | null, };

export type AddPlanReq = { invoice_id: string, instalments: number, every: Every, 
/**
 * null: today.
 */
first_due: string | null, };

export type CloseCashUpReq = { date: string | null, counted: Array<CountedReq>, reason: string | null, };

export type UntilReq = { until: string, };

export type ClosePeriodReq = { until: string, note: string, };

export type StockItem = { id: string, tenant_id: string, 
/**
 * What people type or scan ("AMOX500"): capitals, digits, `-_./`.
 */
sku: string, barcode: string | null, name: string, generic_name: string | null, brand_name: string | null, manufacturer: string | null, category_id: string | null, 
/**
 * "box", "tablet", "ml".
 */
unit: string, pack_size: number, purchase_price: string, sale_price: string, tax_rate: string, min_stock: number, max_stock: number | null, 
/**
 * Below this on-hand at a site, the item shows as low.
 */
reorder_point: number, 
/**
 * Stock is kept by lot (receiving names a lot).
 */
track_batches: boolean, 
/**
 * Lots carry an expiry date (receiving needs one).
 */
track_expiry: boolean, 
/**
 * Dispensed only against a prescription (or with an override).
 */
prescription_required: boolean, storage: string | null, discontinued: boolean, updated_at: string, };

export type StockBatch = { id: string, tenant_id: string, item_id: string, 
/**
 * The lot printed on the pack; empty for items not kept by lot.
 */
lot: string, expiry: string | null, 
/**
 * The cost of one unit: the average of what its receipts paid,
 * weighted by quantity (a lot is nearly always received once).
 */
unit_cost: string, 
/**
 * Units received into it, and what they cost in all.
 */
received: number, received_value: string, supplier_id: string | null, first_received_at: string, updated_at: string, };

export type MovementKind = "receipt" | "dispense" | "adjustment" | "transfer_out" | "transfer_in" | "expiry_write_off" | "stocktake_correction" | "reallocation";

export type OrderStatus = "pending" | "approved" | "sent" | "partially_received" | "received" | "cancelled";

export type OrderLine = { item_id: string, 
/**
 * The SKU and name when ordered (what the order printed).
 */
sku: string, name: string, quantity: number, unit_cost: string, 
/**
 * Units received so far (more than ordered is possible: what
 * arrived is recorded).
 */
received: number, };

export type PurchaseOrder = { id: string, tenant_id: string, 
/**
 * `PO-000012`.
 */
number: string, supplier_id: string, 
/**
 * The supplier's name when ordered.
 */
supplier_name: string, 
/**
 * The site it is delivered to.
 */
site_id: string, lines: Array<OrderLine>, status: OrderStatus, expected_on: string | null, notes: string, created_by: string, created_at: string, approved_by: string | null, approved_at: string | null, sent_at: string | null, cancel_reason: string | null, updated_at: string, };

export type Supplier = { id: string, name: string, contact_person: string | null, email: string | null, phone: string | null, address: string | null, tax_id: string | null, 
/**
 * "Net 30".
 */
payment_terms: string | null, active: boolean, };

export type StocktakeStatus = "counting" | "posted";

export type StockCount = { item_id: string, batch_id: string, counted: number, 
/**
 * The on-hand the counting desk showed when it was counted.
 */
shown: number, by: string, at: string, };

export type Stocktake = { id: string, tenant_id: string, site_id: string, 
/**
 * Only this category's items (`None`: every item).
 */
category_id: string | null, status: StocktakeStatus, 
/**
 * Every count entered, in the server's order; a lot counted again
 * takes its latest count.
 */
counts: Array<StockCount>, started_by: string, started_at: string, posted_by: string | null, posted_at: string | null, 
/**
 * The corrections posted.
 */
corrections: Array<string>, };

export type ItemRow = { id: string, sku: string, name: string, unit: string, category: string | null, on_hand: number, reorder_point: number, 
/**
 * Below its reorder point here.
 */
low: boolean, 
/**
 * The first expiry among the lots with stock here.
 */
next_expiry: string | null, prescription_required: boolean, discontinued: boolean, };

export type LotView = { batch_id: string, lot: string, expiry: string | null, unit_cost: string, site_id: string, site_name: string, quantity: number, expired: boolean, };

export type MovementView = { id: string, kind: MovementKind, label: string, lot: string, site_id: string, site_name: string, quantity: number, unit_cost: string, on: string, at: string, by_name: string, reason: string | null, patient_id: string | null, prescription_id: string | null, invoice_id: string | null, purchase_order_id: string | null, override_reason: string | null, 
/**
 * What the links name, as people read them.
 */
patient_name: string | null, prescription_number: string | null, invoice_number: string | null, purchase_order_number: string | null, };

export type SiteStock = { site_id: string, site_name: string, on_hand: number, low: boolean, };

export type ItemDetail = { item: StockItem, category: string | null, sites: Array<SiteStock>, lots: Array<LotView>, movements: Array<MovementView>, };

export type LotUsed = { movement_id: string, batch_id: string, lot: string, expiry: string | null, quantity: number, };

export type Dispensed = { item_id: string, sku: string, name: string, site_id: string, site_name: string, quantity: number, 
/**
 * The lots (batches) it took, first expiry first.
 */
batches: Array<LotUsed>, patient_id: string | null, prescription_id: string | null, invoice_id: string | null, 
/**
 * The invoice's line billing it (0-based).
 */
invoice_line: number | null, 
/**
 * What is left of the item at the site after it.
 */
on_hand_after: number, };

export type DispensePlan = { item_id: string, sku: string, name: string, unit: string, site_id: string, site_name: string, quantity: number, 
/**
 * The lots it takes, first expiry first (`movement_id` is nil).
 */
batches: Array<LotUsed>, 
/**
 * The item's on-hand at the site now.
 */
on_hand: number, prescription_required: boolean, };

export type RxToFill = { id: string, 
/**
 * `RX-XXXX-XXXXXXXX`, as printed.
 */
number: string, issued_at: string, expires_on: string, prescriber_name: string, lines: Array<RxLineToFill>, };

export type RxLineToFill = { 
/**
 * 0-based, as dispensing names it.
 */
index: number, line: PrescriptionLine, 
/**
 * Units dispensed against this line so far.
 */
dispensed: number, };

export type Received = { item_id: string, sku: string, batch_id: string, lot: string, expiry: string | null, quantity: number, unit_cost: string, movement_id: string, site_name: string, };

export type AlertKind = "negative" | "expired" | "expiring" | "low";

export type Reallocation = { site_id: string, from_batch: string, from_lot: string, to_batch: string, to_lot: string, quantity: number, };

export type Alert = { kind: AlertKind, item_id: string, sku: string, name: string, 
/**
 * The item's unit ("box").
 */
unit: string, site_id: string, site_name: string, batch_id: string | null, lot: string | null, expiry: string | null, quantity: number, reorder_point: number | null, message: string, 
/**
 * For a lot below zero: the movements that took it there.
 */
caused_by: Array<MovementView>, proposal: Reallocation | null, };

export type Valuation = { site_id: string | null, site_name: string, 
/**
 * How stock is valued.
 */
method: string, currency: string, total: string, lots: number, items: number, };

export type OrderView = { order: PurchaseOrder, total: string, 
/**
 * Units still to come, over every line (the back-order).
 */
outstanding: number, site_name: string, };

export type SheetLine = { item_id: string, sku: string, name: string, batch_id: string, lot: string, expiry: string | null, 
/**
 * On hand here now.
 */
on_hand: number, 
/**
 * The count that stands, and what the counting desk showed then.
 */
counted: number | null, shown: number | null, 
/**
 * counted − shown: the correction posting makes.
 */
variance: number | null, };

export type StocktakeView = { stocktake: Stocktake, site_name: string, category: string | null, lines: Array<SheetLine>, 
/**
 * Lots counted so far.
 */
counted: number, };

export type SiteOption = { id: string, name: string, };

export type AlertCounts = { negative: number, expired: number, expiring: number, low: number, total: number, };

export type StockFrame = { money: MoneyFormat, today: string, expiring_days: number, };

export type StockScreen = { frame: StockFrame, site_id: string, sites: Array<SiteOption>, items: Array<ItemRow>, valuation: Valuation, };

export type StockItemScreen = { frame: StockFrame, detail: ItemDetail, };

export type AlertsScreen = { frame: StockFrame, alerts: Array<Alert>, counts: AlertCounts, };

export type OrdersScreen = { frame: StockFrame, orders: Array<OrderView>, suppliers: Array<Supplier>, sites: Array<SiteOption>, };

export type OrderScreen = { frame: StockFrame, order: OrderView, };

export type StocktakeRow = { id: string, site_name: string, category: string | null, status: StocktakeStatus, started_at: string, posted_at: string | null, 
/**
 * Lots counted so far.
 */
counted: number, };

export type StocktakesScreen = { frame: StockFrame, stocktakes: Array<StocktakeRow>, sites: Array<SiteOption>, categories: Array<SiteOption>, };

export type StocktakeScreen = { frame: StockFrame, sheet: StocktakeView, };

export type OrderStepName = "approve" | "mark_sent" | "cancel";

export type StockListReq = { site_id: string | null, text: string | null, include_discontinued: boolean, };

export type CodeReq = { code: string, };

export type DispenseStockReq = { item: string, quantity: number, lot: string | null, site_id: string | null, patient_id: string | null, prescription_id: string | null, prescription_line: number | null, invoice_id: string | null, override_reason: string | null, };

export type ReceiveStockReq = { item: string, lot: string | null, expiry: string | null, quantity: number, cost: string | null, supplier: string | null, site_id: string | null, };

export type AdjustStockReq = { item: string, lot: string | null, quantity: number | null, reason: string, write_off: boolean, site_id: string | null, };

export type ReallocateReq = { item: string, from_lot: string, to_lot: string, quantity: number, reason: string, site_id: string | null, };

export type OrderLineReq = { item: string, quantity: number, cost: string | null, };

export type CreateOrderReq = { supplier: string, site_id: string | null, lines: Array<OrderLineReq>, expected_on: string | null, notes: string, };

export type OrderStepReq = { id: string, step: OrderStepName, reason: string | null, };

export type ReceiveLineReq = { item: string, quantity: number, lot: string | null, expiry: string | null, cost: string | null, };

export type ReceiveOrderReq = { id: string, lines: Array<ReceiveLineReq>, };

export type StartStocktakeReq = { site_id: string | null, category_id: string | null, };

export type CountReq = { id: string, item: string, lot: string, counted: number, };
