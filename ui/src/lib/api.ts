// The only module that imports @tauri-apps/api. Every command of
// CONTRACT.md has one typed function here; everything else imports these.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type {
  AddUserReq,
  HoursLine,
  LeaveReq,
  RoleChoice,
  SetupView,
  TypeLine,
  AdjustStockReq,
  AlertCounts,
  AlertsScreen,
  CreateOrderReq,
  DispensePlan,
  DispenseStockReq,
  Dispensed,
  MovementView,
  OrderScreen,
  OrdersScreen,
  OrderStepName,
  ReallocateReq,
  ReceiveLineReq,
  ReceiveStockReq,
  Received,
  RxToFill,
  StockItemScreen,
  StockListReq,
  StockScreen,
  StocktakeScreen,
  StocktakesScreen,
  BillingHome,
  CashUpScreen,
  ClaimsScreen,
  CountedReq,
  DecideClaimReq,
  Every,
  PeriodClosing,
  PeriodScreen,
  InvoiceScreen,
  InvoicesReq,
  LineReq,
  PatientAccount,
  PaymentMethod,
  PrintKind,
  Printed,
  AppState,
  AppointmentStatus,
  AppointmentView,
  BookReq,
  CalendarView,
  ChartView,
  ClinicError,
  ClinicianDayView,
  ConflictsView,
  CreateStoreReq,
  DeviceRow,
  DraftSaved,
  DuplicateCandidate,
  EnrollReq,
  MoveReq,
  NewDiagnosis,
  NoteView,
  Patient,
  PatientDetails,
  PatientHit,
  PatientPatch,
  PatientSummary,
  PrescriptionLine,
  PrescriptionStatus,
  ResolveReq,
  SafetyWarning,
  SettingsView,
  Slot,
  SyncView,
  UserView,
  VitalsReq,
} from './bindings';

export type { AddUserReq, BookReq, CreateStoreReq, EnrollReq, MoveReq, ResolveReq };
export type { DecideClaimReq };
export type { AdjustStockReq, CreateOrderReq, DispenseStockReq, ReallocateReq, ReceiveLineReq, ReceiveStockReq, StockListReq };

/**
 * The shell locked the workstation or switched user by itself (menu, idle
 * watch): `fn` re-reads app_state. Returns the function that stops listening.
 */
export async function onStateChanged(fn: () => void): Promise<() => void> {
  return listen('state-changed', () => fn());
}

const KNOWN_CODES = new Set([
  'VALIDATION', 'NOT_FOUND', 'FORBIDDEN', 'INVALID_CREDENTIALS', 'ACCOUNT_LOCKED', 'RATE_LIMITED', 'MFA_REQUIRED',
  'WRONG_KEY', 'KEY_UNAVAILABLE', 'KEYCHAIN_MISMATCH', 'STORE_MISSING', 'STORE_EXISTS', 'STORE_CORRUPT',
  'SCHEMA_TOO_NEW', 'CONFLICT', 'NUMBERS_EXHAUSTED', 'AUDIT_CHAIN_BROKEN', 'SESSION_LOCKED',
  'UNREACHABLE', 'UPDATE_REQUIRED', 'PASSWORD_CHANGE_REQUIRED', 'CREDENTIAL_EXPIRED',
  'CONFIRMATION_NEEDED', 'SAFETY_WARNING', 'SIGNATURE_MISMATCH', 'ALREADY_ISSUED', 'OVER_REFUND', 'PERIOD_CLOSED', 'INTERNAL',
]);

/** Turns whatever a command rejected with into a ClinicError. */
export function toClinicError(e: unknown): ClinicError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const o = e as { code: unknown; message: unknown; fields?: unknown };
    if (typeof o.code === 'string' && KNOWN_CODES.has(o.code)) {
      return {
        code: o.code as ClinicError['code'],
        message: String(o.message),
        fields: Array.isArray(o.fields) ? (o.fields as ClinicError['fields']) : undefined,
      };
    }
  }
  if (typeof e === 'string') return { code: 'INTERNAL', message: e };
  if (e instanceof Error) return { code: 'INTERNAL', message: e.message };
  return { code: 'INTERNAL', message: 'Something went wrong. Please try again.' };
}

let sessionLockedListener: (() => void) | null = null;

/** Called whenever any command fails with SESSION_LOCKED (the app then re-reads app_state). */
export function onSessionLocked(fn: (() => void) | null): void {
  sessionLockedListener = fn;
}

async function call<T>(cmd: string, req?: unknown): Promise<T> {
  try {
    return req === undefined ? await invoke<T>(cmd) : await invoke<T>(cmd, { req });
  } catch (e) {
    const err = toClinicError(e);
    if (err.code === 'SESSION_LOCKED') sessionLockedListener?.();
    throw err;
  }
}

export const appState = () => call<AppState>('app_state');
export const createStore = (req: CreateStoreReq) => call<AppState>('create_store', req);
export const enroll = (req: EnrollReq) => call<AppState>('enroll', req);
export const unlock = (passphrase: string | null) => call<AppState>('unlock', { passphrase });
export const unlockAs = (email: string, password: string) => call<AppState>('unlock_as', { email, password });
export const signIn = (email: string, password: string) =>
  call<AppState>('sign_in', { email, password });
export const changePassword = (current: string, next: string) =>
  call<AppState>('change_password', { current, new: next });
export const signOut = () => call<AppState>('sign_out');
export const lock = () => call<AppState>('lock');

export const searchPatients = (query: string, limit = 20) =>
  call<PatientHit[]>('search_patients', { query, limit });
export const patientSummary = (id: string) => call<PatientSummary>('patient_summary', { id });
export const checkDuplicates = (details: PatientDetails) =>
  call<DuplicateCandidate[]>('check_duplicates', { details });
export const registerPatient = (details: PatientDetails) => call<Patient>('register_patient', { details });
export const updatePatient = (id: string, patch: PatientPatch) => call<Patient>('update_patient', { id, patch });

export const calendar = (from: string, to: string) => call<CalendarView>('calendar', { from, to });
export const findSlots = (clinician_id: string, minutes: number, from_local: string, count = 5) =>
  call<Slot[]>('find_slots', { clinician_id, minutes, from_local, count });
export const bookAppointment = (req: BookReq) => call<AppointmentView>('book_appointment', req);
export const moveAppointment = (req: MoveReq) => call<AppointmentView>('move_appointment', req);
export const setAppointmentStatus = (id: string, status: AppointmentStatus, reason: string | null) =>
  call<AppointmentView>('set_appointment_status', { id, status, reason });

export const setupView = () => call<SetupView>('setup_view');
export const saveHours = (clinician_id: string, hours: HoursLine[]) => call<SetupView>('save_hours', { clinician_id, hours });
export const addLeave = (req: LeaveReq) => call<SetupView>('add_leave', { ...req });
export const removeLeave = (clinician_id: string, id: string) => call<SetupView>('remove_leave', { clinician_id, id });
export const saveRoom = (id: string | null, name: string, kind: string) => call<SetupView>('save_room', { id, name, kind });
export const saveType = (line: TypeLine) => call<SetupView>('save_type', { line });

export const clinicianDay = (date: string | null = null) => call<ClinicianDayView>('clinician_day', { date });
export const chart = (id: string) => call<ChartView>('chart', { id });
export const startEncounter = (patient_id: string, appointment_id: string | null, encounter_type: string | null = null) =>
  call<NoteView>('start_encounter', { patient_id, appointment_id, encounter_type });
export const note = (id: string) => call<NoteView>('note', { id });
export const saveDraft = (id: string, field: string, text: string) => call<DraftSaved>('save_draft', { id, field, text });
export const saveNote = (id: string) => call<NoteView>('save_note', { id });
export const recordVitals = (req: VitalsReq) => call<NoteView>('record_vitals', req);
export const changeDiagnoses = (id: string, add: NewDiagnosis[], remove: string[]) =>
  call<NoteView>('change_diagnoses', { id, add, remove });
export const signNote = (id: string) => call<NoteView>('sign_note', { id });
export const addAddendum = (id: string, text: string) => call<NoteView>('add_addendum', { id, text });
export const resolveSibling = (id: string, field: string, text: string, resolves: string[]) =>
  call<NoteView>('resolve_sibling', { id, field, text, resolves });

export const checkPrescription = (id: string, lines: PrescriptionLine[]) =>
  call<SafetyWarning[]>('check_prescription', { id, lines, instructions: '', override_reason: null });
export const prescribe = (id: string, lines: PrescriptionLine[], instructions: string, override_reason: string | null) =>
  call<NoteView>('prescribe', { id, lines, instructions, override_reason });
export const endPrescription = (id: string, to: PrescriptionStatus, reason: string | null) =>
  call<NoteView>('end_prescription', { id, to, reason });

export const billingHome = (req: InvoicesReq) => call<BillingHome>('billing_home', req);
export const invoice = (id: string) => call<InvoiceScreen>('invoice', { id });
export const patientAccount = (id: string) => call<PatientAccount | null>('patient_account', { id });
export const createInvoice = (patient_id: string, appointment_id: string | null, lines: LineReq[], discount: string | null = null) =>
  call<InvoiceScreen>('create_invoice', { patient_id, appointment_id, lines, discount });
export const invoiceForAppointment = (id: string) => call<InvoiceScreen>('invoice_for_appointment', { id });
export const invoiceForEncounter = (id: string) => call<InvoiceScreen>('invoice_for_encounter', { id });
export const editInvoice = (id: string, lines: LineReq[], discount: string | null, notes: string) =>
  call<InvoiceScreen>('edit_invoice', { id, lines, discount, notes });
export const discardInvoice = (id: string) => call<InvoiceScreen>('discard_invoice', { id });
export const issueInvoice = (id: string) => call<InvoiceScreen>('issue_invoice', { id });
export const voidInvoice = (id: string, reason: string) => call<InvoiceScreen>('void_invoice', { id, reason });
export const takePayment = (
  invoice_id: string,
  amount: string,
  method: PaymentMethod,
  reference: string | null = null,
  received_on: string | null = null,
) => call<InvoiceScreen>('take_payment', { invoice_id, amount, method, reference, received_on });
export const refundPayment = (payment_id: string, amount: string, reason: string) =>
  call<InvoiceScreen>('refund_payment', { payment_id, amount, reason });
export const creditInvoice = (id: string, lines: number[], reason: string) =>
  call<InvoiceScreen>('credit_invoice', { id, lines, reason });
export const resolveMoneyConflict = (invoice_id: string, entry: string, note: string) =>
  call<InvoiceScreen>('resolve_money_conflict', { invoice_id, entry, note });
export const printDocument = (kind: PrintKind, id: string) => call<Printed>('print_document', { kind, id });
export const claims = (open_only: boolean) => call<ClaimsScreen>('claims', { open_only });
export const addClaim = (invoice_id: string, provider: string, amount: string, policy_number: string | null) =>
  call<InvoiceScreen>('add_claim', { invoice_id, provider, amount, policy_number });
export const decideClaim = (req: DecideClaimReq) => call<InvoiceScreen>('decide_claim', req);
export const addPlan = (invoice_id: string, instalments: number, every: Every, first_due: string | null) =>
  call<InvoiceScreen>('add_plan', { invoice_id, instalments, every, first_due });
export const cashUp = (date: string | null) => call<CashUpScreen>('cash_up', { date });
export const closeCashUp = (date: string | null, counted: CountedReq[], reason: string | null) =>
  call<CashUpScreen>('close_cash_up', { date, counted, reason });
export const periodLock = () => call<PeriodScreen>('period_lock');
export const previewClose = (until: string) => call<PeriodClosing>('preview_close', { until });
export const closePeriod = (until: string, note: string) => call<PeriodClosing>('close_period', { until, note });

export const stockList = (req: StockListReq) => call<StockScreen>('stock_list', req);
export const stockItem = (code: string) => call<StockItemScreen>('stock_item', { code });
export const dispensePlan = (req: DispenseStockReq) => call<DispensePlan>('dispense_plan', req);
export const dispenseStock = (req: DispenseStockReq) => call<Dispensed>('dispense_stock', req);
export const prescriptionsToFill = (patientId: string) => call<RxToFill[]>('prescriptions_to_fill', { id: patientId });
export const receiveStock = (req: ReceiveStockReq) => call<Received>('receive_stock', req);
export const adjustStock = (req: AdjustStockReq) => call<MovementView>('adjust_stock', req);
export const reallocateStock = (req: ReallocateReq) => call<MovementView[]>('reallocate_stock', req);
export const stockAlerts = () => call<AlertsScreen>('stock_alerts');
export const stockAlertCounts = () => call<AlertCounts>('stock_alert_counts');
export const purchaseOrders = () => call<OrdersScreen>('purchase_orders');
export const purchaseOrder = (code: string) => call<OrderScreen>('purchase_order', { code });
export const createPurchaseOrder = (req: CreateOrderReq) => call<OrderScreen>('create_purchase_order', req);
export const orderStep = (id: string, step: OrderStepName, reason: string | null = null) =>
  call<OrderScreen>('order_step', { id, step, reason });
export const receiveOrder = (id: string, lines: ReceiveLineReq[]) => call<OrderScreen>('receive_order', { id, lines });
export const stocktakes = () => call<StocktakesScreen>('stocktakes');
export const startStocktake = (site_id: string | null, category_id: string | null) =>
  call<StocktakeScreen>('start_stocktake', { site_id, category_id });
export const stocktake = (id: string) => call<StocktakeScreen>('stocktake', { id });
export const countStock = (id: string, item: string, lot: string, counted: number) =>
  call<StocktakeScreen>('count_stock', { id, item, lot, counted });
export const postStocktake = (id: string) => call<StocktakeScreen>('post_stocktake', { id });

export const syncStatus = () => call<SyncView>('sync_status');
export const syncNow = () => call<SyncView>('sync_now');
export const conflicts = () => call<ConflictsView>('conflicts');
export const resolveBooking = (req: ResolveReq) => call<ConflictsView>('resolve_booking', req);
export const reapplyRefused = (device_seq: number) => call<ConflictsView>('reapply_refused', { device_seq });
export const dismissRefused = (device_seq: number) => call<ConflictsView>('dismiss_refused', { device_seq });

export const users = () => call<UserView[]>('users');
export const addUser = (req: AddUserReq) => call<UserView>('add_user', req);
export const setUserDisabled = (email: string, disabled: boolean) =>
  call<UserView>('set_user_disabled', { email, disabled });
export const setUserRoles = (email: string, roles: string[]) => call<UserView>('set_user_roles', { email, roles });
export const devices = (password: string, totp: string | null) =>
  call<DeviceRow[]>('devices', { password, totp });
export const revokeDevice = (id: string, password: string, totp: string | null) =>
  call<DeviceRow[]>('revoke_device', { id, password, totp });
export const roles = () => call<RoleChoice[]>('roles');
export const settings = () => call<SettingsView>('settings');
