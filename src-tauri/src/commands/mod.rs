//! The commands the UI calls, one file per domain. Each one only converts
//! its request, calls a `clinic_client` use-case (the same ones the
//! `clinic` CLI calls) and converts the answer back; errors keep the one
//! shape with stable codes (`ClinicError`: code, message, field errors).
//! The list of commands is kept once, in [`crate::command_names`].

pub mod billing;
pub mod clinical;
pub mod directory;
pub mod inventory;
pub mod patients;
pub mod scheduling;
pub mod session;
pub mod sync;

pub use billing::*;
pub use clinical::*;
pub use directory::*;
pub use inventory::*;
pub use patients::*;
pub use scheduling::*;
pub use session::*;
pub use sync::*;

use crate::state::Desktop;
use clinic_client::desk::{
    parse_date, AppState, AppointmentView, CalendarView, ConflictsView, PatientHit, PatientSummary,
    ResolveAction, RoleChoice, SettingsView, Slot, SyncView, UserView,
};
use clinic_client::directory::devices::DeviceRow;
use clinic_client::scheduling::setup::{HoursLine, SetupView, TypeLine};
use clinic_client::scheduling::{BookRequest, MoveRequest};
use clinic_client::{InitOptions, Password};
use clinic_core::patients::{DuplicateCandidate, NewLists, Patient, PatientDetails, PatientPatch};
use clinic_core::scheduling::{AppointmentStatus, SeriesScope};
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::keys::Passphrase;
use serde::Deserialize;
use tauri::{AppHandle, Manager};
use uuid::Uuid;

pub(crate) type Answer<T> = Result<T, ClinicError>;

/// Runs a command's work on the blocking pool (the store, Argon2 and the
/// sync client block; the UI's event loop never waits on them) and logs a
/// refusal by its code (never the arguments: they may hold patient data or
/// passwords).
pub(crate) async fn run<T: Send + 'static>(
    app: AppHandle,
    name: &'static str,
    work: impl FnOnce(&Desktop) -> ClinicResult<T> + Send + 'static,
) -> Answer<T> {
    let r = tauri::async_runtime::spawn_blocking(move || work(&app.state::<Desktop>()))
        .await
        .unwrap_or_else(|e| Err(ClinicError::internal(e)));
    if let Err(e) = &r {
        tracing::info!(command = name, code = %e.code, "refused");
    }
    r
}

macro_rules! request {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize, ts_rs::TS)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
    };
}

request!(CreateStoreReq {
    clinic_name: String,
    admin_name: String,
    admin_email: String,
    admin_password: String,
    passphrase: String,
});
request!(EnrollReq {
    server_url: String,
    fingerprint: Option<String>,
    tenant: String,
    email: String,
    password: String,
    device_name: String,
    passphrase: String,
});
request!(UnlockReq { passphrase: Option<String> });
request!(SignInReq {
    email: String,
    password: String
});
request!(ChangePasswordReq {
    current: String,
    new: String
});
request!(SearchReq {
    query: String,
    limit: u32
});
request!(IdReq { id: Uuid });
request!(DayReq { date: Option<String> });
request!(StartEncounterReq {
    patient_id: Uuid,
    appointment_id: Option<Uuid>,
    encounter_type: Option<String>,
});
request!(DraftReq {
    id: Uuid,
    field: String,
    text: String
});
request!(VitalsReq {
    id: Uuid,
    bp: Option<String>,
    pulse: Option<u16>,
    temperature: Option<f64>,
    spo2: Option<u16>,
    weight: Option<f64>,
    height: Option<f64>,
    confirm: bool,
});
request!(NewDiagnosis {
    code: Option<String>,
    text: String
});
request!(DiagnosesReq {
    id: Uuid,
    add: Vec<NewDiagnosis>,
    remove: Vec<Uuid>
});
request!(AddendumReq {
    id: Uuid,
    text: String
});
request!(PrescriptionReq {
    /// The encounter.
    id: Uuid,
    lines: Vec<clinic_core::clinical::PrescriptionLine>,
    instructions: String,
    override_reason: Option<String>,
});
request!(EndPrescriptionReq {
    id: Uuid,
    to: clinic_core::clinical::PrescriptionStatus,
    reason: Option<String>,
});
request!(ResolveSiblingReq {
    id: Uuid,
    field: String,
    text: String,
    resolves: Vec<Uuid>,
});
request!(DetailsReq {
    details: PatientDetails
});
request!(UpdatePatientReq {
    id: Uuid,
    patch: PatientPatch
});
request!(CalendarReq {
    from: String,
    to: String
});
request!(HoursReq {
    clinician_id: Uuid,
    hours: Vec<HoursLine>
});
request!(LeaveReq {
    clinician_id: Uuid,
    kind: String,
    start_local: String,
    end_local: String,
    reason: Option<String>,
});
request!(RemoveLeaveReq {
    clinician_id: Uuid,
    id: Uuid
});
request!(RoomReq {
    id: Option<Uuid>,
    name: String,
    kind: String
});
request!(TypeReq { line: TypeLine });
request!(SlotsReq {
    clinician_id: Uuid,
    minutes: u32,
    from_local: String,
    count: u32
});
request!(BookReq {
    patient_id: Uuid,
    clinician_id: Uuid,
    start_local: String,
    minutes: Option<u32>,
    type_name: Option<String>,
    room_id: Option<Uuid>,
    notes: Option<String>,
    override_checks: bool,
});
request!(MoveReq { id: Uuid, start_local: String, clinician_id: Option<Uuid>, override_checks: bool });
request!(StatusReq { id: Uuid, status: AppointmentStatus, reason: Option<String> });
request!(ResolveReq {
    appointment_id: Uuid,
    action: ResolveAction,
    reason: Option<String>,
    start_local: Option<String>,
});
request!(SeqReq {
    #[ts(type = "number")]
    device_seq: i64,
});
request!(AddUserReq {
    email: String,
    name: String,
    role: String,
    password: String
});
request!(DisableReq {
    email: String,
    disabled: bool
});
request!(UserRolesReq {
    email: String,
    roles: Vec<String>
});
// An administrator's password (and TOTP code when their account has one),
// confirmed with the sync server for one call.
request!(ServerAdminReq {
    password: String,
    totp: Option<String>
});
request!(RevokeDeviceReq {
    id: Uuid,
    password: String,
    totp: Option<String>
});

request!(InvoicesReq {
    patient_id: Option<Uuid>,
    status: Option<String>,
    unpaid_only: bool,
    conflicts_only: bool,
    from: Option<String>,
    to: Option<String>,
    limit: u32,
});
request!(CreateInvoiceReq {
    patient_id: Uuid,
    appointment_id: Option<Uuid>,
    lines: Vec<clinic_client::billing::desk::LineReq>,
    discount: Option<String>,
});
request!(EditInvoiceReq {
    id: Uuid,
    lines: Vec<clinic_client::billing::desk::LineReq>,
    discount: Option<String>,
    notes: String,
});
request!(ReasonReq {
    id: Uuid,
    reason: String
});
request!(PaymentReq {
    invoice_id: Uuid,
    amount: String,
    method: clinic_core::billing::PaymentMethod,
    reference: Option<String>,
    /// The day the money was received (null: today).
    received_on: Option<String>,
});
request!(RefundReq {
    payment_id: Uuid,
    amount: String,
    reason: String
});
request!(CreditReq {
    id: Uuid,
    lines: Vec<u32>,
    reason: String
});
request!(MoneyConflictReq {
    invoice_id: Uuid,
    entry: Uuid,
    note: String
});
request!(PrintReq {
    kind: clinic_client::billing::desk::PrintKind,
    id: Uuid
});
request!(ClaimsReq { open_only: bool });
request!(AddClaimReq {
    invoice_id: Uuid,
    provider: String,
    amount: String,
    policy_number: Option<String>,
});
request!(DecideClaimReq {
    claim_id: Uuid,
    status: clinic_core::billing::ClaimStatus,
    /// The total approved so far (null with a denial).
    approved: Option<String>,
    reason: Option<String>,
    /// The day of the decision (null: today).
    date: Option<String>,
});
request!(AddPlanReq {
    invoice_id: Uuid,
    instalments: u8,
    every: clinic_core::billing::Every,
    /// null: today.
    first_due: Option<String>,
});
request!(CloseCashUpReq {
    date: Option<String>,
    counted: Vec<clinic_client::billing::desk::CountedReq>,
    reason: Option<String>,
});
request!(UntilReq { until: String });
request!(ClosePeriodReq {
    until: String,
    note: String
});

request!(StockListReq {
    site_id: Option<Uuid>,
    text: Option<String>,
    include_discontinued: bool,
});
// An item's SKU, scanned barcode or id; an order's number or id.
request!(CodeReq { code: String });
request!(DispenseStockReq {
    item: String,
    quantity: i64,
    lot: Option<String>,
    site_id: Option<Uuid>,
    patient_id: Option<Uuid>,
    prescription_id: Option<Uuid>,
    prescription_line: Option<u32>,
    invoice_id: Option<Uuid>,
    override_reason: Option<String>,
});
request!(ReceiveStockReq {
    item: String,
    lot: Option<String>,
    expiry: Option<String>,
    quantity: i64,
    cost: Option<String>,
    supplier: Option<String>,
    site_id: Option<Uuid>,
});
request!(AdjustStockReq {
    item: String,
    lot: Option<String>,
    quantity: Option<i64>,
    reason: String,
    write_off: bool,
    site_id: Option<Uuid>,
});
request!(ReallocateReq {
    item: String,
    from_lot: String,
    to_lot: String,
    quantity: i64,
    reason: String,
    site_id: Option<Uuid>,
});
request!(OrderLineReq {
    item: String,
    quantity: i64,
    cost: Option<String>
});
request!(CreateOrderReq {
    supplier: String,
    site_id: Option<Uuid>,
    lines: Vec<OrderLineReq>,
    expected_on: Option<String>,
    notes: String,
});
request!(OrderStepReq {
    id: Uuid,
    step: inventory::OrderStepName,
    reason: Option<String>,
});
request!(ReceiveLineReq {
    item: String,
    quantity: i64,
    lot: Option<String>,
    expiry: Option<String>,
    cost: Option<String>,
});
request!(ReceiveOrderReq {
    id: Uuid,
    lines: Vec<ReceiveLineReq>
});
request!(StartStocktakeReq {
    site_id: Option<Uuid>,
    category_id: Option<Uuid>
});
request!(CountReq {
    id: Uuid,
    item: String,
    lot: String,
    counted: i64,
});

macro_rules! handler_of {
    ($($module:ident: $($command:ident),*;)*) => {
        /// Every command of [`crate::command_names::COMMANDS`], registered.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($($module::$command),*),*]
        }
    };
}
desktop_commands!(handler_of);
