//! `ui/src/lib/bindings.ts`: the TypeScript declarations of every type that
//! crosses the shell, generated from the Rust types. A test fails when the
//! checked-in file differs (run it with `UPDATE_BINDINGS=1` to rewrite it).

use crate::commands::*;
use clinic_client::billing::closing::{
    CashUpView, LatePayment, PeriodClosing, Takings, UnsyncedDesk,
};
use clinic_client::billing::desk::*;
use clinic_client::billing::insurance::{ClaimView, PlanView};
use clinic_client::billing::invoices::{
    AccountView, Ageing, AgeingBucket, InvoiceRow, InvoiceView,
};
use clinic_client::billing::PriceView;
use clinic_client::clinical::desk::*;
use clinic_client::desk::*;
use clinic_client::directory::devices::DeviceRow;
use clinic_client::inventory::orders::OrderView;
use clinic_client::inventory::stock::*;
use clinic_client::inventory::stocktake::{SheetLine, StocktakeView};
use clinic_client::inventory::ItemRow;
use clinic_client::scheduling::setup::{
    ClinicianSetup, HoursLine, LeaveLine, RoomLine, SetupView, TypeLine,
};
use clinic_core::clinical::medications::{SafetyWarning, Severity as SafetySeverity, WarningKind};
use clinic_core::clinical::{
    Diagnosis, EncounterStatus, PrescriptionLine, PrescriptionStatus, Vitals,
};
use clinic_core::patients::*;
use clinic_core::scheduling::AppointmentStatus;
use clinic_core::{ClinicError, ErrorCode, FieldError};

/// Where the UI expects the file, relative to this crate.
pub const PATH: &str = "../ui/src/lib/bindings.ts";

/// The whole file.
pub fn typescript() -> String {
    // Quantities and counts are i64 in Rust and plain numbers in JSON.
    let cfg = ts_rs::Config::default().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types (src-tauri/src/bindings.rs); do not edit.\n\
         // After changing a Rust type: UPDATE_BINDINGS=1 cargo test -p clinic-desktop bindings\n",
    );
    macro_rules! decl {
        ($($t:ty),* $(,)?) => {$(
            out.push_str("\nexport ");
            out.push_str(&<$t as ts_rs::TS>::decl(&cfg));
            out.push('\n');
        )*};
    }
    decl!(
        ErrorCode,
        FieldError,
        ClinicError,
        Stage,
        SessionView,
        AppState,
        RoleChoice,
        SexAtBirth,
        Severity,
        clinic_core::clinical::medications::AllergyCode,
        Level,
        ContactChannel,
        clinic_core::patients::NationalIdKind,
        clinic_core::permissions::SensitiveFlag,
        PatientDetails,
        Allergy,
        Condition,
        Medication,
        InsuranceCoverage,
        EmergencyContact,
        Consent,
        PatientLists,
        Patient,
        NewAllergy,
        NewCondition,
        NewMedication,
        NewInsurance,
        NewEmergencyContact,
        NewConsent,
        NewLists,
        PatientPatch,
        DuplicateCandidate,
        PatientHit,
        AppointmentStatus,
        AppointmentView,
        NotAppliedView,
        PatientSummary,
        Resource,
        WorkingSpan,
        TypeView,
        CalendarView,
        Slot,
        BookingConflictRow,
        RefusedChange,
        ConflictsView,
        UserView,
        DeviceRow,
        Progress,
        SyncView,
        SettingsView,
        ResolveAction,
        EncounterStatus,
        Vitals,
        Diagnosis,
        DayRow,
        WalkInRow,
        ClinicianDayView,
        ChartEncounter,
        VitalsRow,
        ChartView,
        SiblingView,
        NoteField,
        SignatureView,
        AddendumView,
        PrescriptionStatus,
        PrescriptionLine,
        SafetySeverity,
        WarningKind,
        SafetyWarning,
        PrescriptionView,
        RevisionView,
        NoteView,
        DraftSaved,
        CreateStoreReq,
        EnrollReq,
        UnlockReq,
        SignInReq,
        ChangePasswordReq,
        SearchReq,
        IdReq,
        DetailsReq,
        UpdatePatientReq,
        CalendarReq,
        SlotsReq,
        HoursLine,
        LeaveLine,
        ClinicianSetup,
        RoomLine,
        TypeLine,
        SetupView,
        HoursReq,
        LeaveReq,
        RemoveLeaveReq,
        RoomReq,
        TypeReq,
        BookReq,
        MoveReq,
        StatusReq,
        ResolveReq,
        SeqReq,
        AddUserReq,
        DisableReq,
        UserRolesReq,
        ServerAdminReq,
        RevokeDeviceReq,
        DayReq,
        StartEncounterReq,
        DraftReq,
        VitalsReq,
        NewDiagnosis,
        DiagnosesReq,
        AddendumReq,
        ResolveSiblingReq,
        PrescriptionReq,
        EndPrescriptionReq,
        clinic_core::billing::InvoiceStatus,
        clinic_core::billing::LineInput,
        clinic_core::billing::InvoiceLine,
        clinic_core::billing::Totals,
        clinic_core::billing::BillingPrint,
        clinic_core::billing::EntryKind,
        clinic_core::billing::MoneyEntry,
        clinic_core::billing::Resolution,
        clinic_core::billing::MoneyConflict,
        clinic_core::billing::Invoice,
        clinic_core::billing::PaymentMethod,
        clinic_core::billing::PaymentKind,
        clinic_core::billing::Payment,
        clinic_core::billing::CreditNote,
        clinic_core::billing::PriceKind,
        clinic_core::billing::PriceVersion,
        clinic_core::billing::ClaimStatus,
        clinic_core::billing::InsuranceClaim,
        clinic_core::billing::Every,
        clinic_core::billing::Instalment,
        clinic_core::billing::InstalmentPlan,
        clinic_core::billing::PlanStatus,
        clinic_core::billing::PlanProgress,
        clinic_core::billing::PeriodClose,
        clinic_core::billing::PeriodLock,
        clinic_core::billing::CashUpLine,
        clinic_core::billing::CashUp,
        PriceView,
        InvoiceView,
        InvoiceRow,
        AccountView,
        MoneyFormat,
        AgeingBucket,
        Ageing,
        BillingHome,
        PaymentRow,
        ClaimView,
        PlanView,
        InvoiceScreen,
        Billable,
        PatientAccount,
        BillingFrame,
        ClaimsScreen,
        Takings,
        LatePayment,
        CashUpView,
        CashUpScreen,
        PeriodScreen,
        UnsyncedDesk,
        PeriodClosing,
        CountedReq,
        Printed,
        PrintKind,
        LineReq,
        InvoicesReq,
        CreateInvoiceReq,
        EditInvoiceReq,
        ReasonReq,
        PaymentReq,
        RefundReq,
        CreditReq,
        MoneyConflictReq,
        PrintReq,
        ClaimsReq,
        AddClaimReq,
        DecideClaimReq,
        AddPlanReq,
        CloseCashUpReq,
        UntilReq,
        ClosePeriodReq,
        clinic_core::inventory::StockItem,
        clinic_core::inventory::StockBatch,
        clinic_core::inventory::MovementKind,
        clinic_core::inventory::OrderStatus,
        clinic_core::inventory::OrderLine,
        clinic_core::inventory::PurchaseOrder,
        clinic_core::inventory::Supplier,
        clinic_core::inventory::StocktakeStatus,
        clinic_core::inventory::StockCount,
        clinic_core::inventory::Stocktake,
        ItemRow,
        LotView,
        MovementView,
        SiteStock,
        ItemDetail,
        LotUsed,
        Dispensed,
        DispensePlan,
        RxToFill,
        RxLineToFill,
        Received,
        AlertKind,
        Reallocation,
        Alert,
        Valuation,
        OrderView,
        SheetLine,
        StocktakeView,
        SiteOption,
        AlertCounts,
        StockFrame,
        StockScreen,
        StockItemScreen,
        AlertsScreen,
        OrdersScreen,
        OrderScreen,
        StocktakeRow,
        StocktakesScreen,
        StocktakeScreen,
        OrderStepName,
        StockListReq,
        CodeReq,
        DispenseStockReq,
        ReceiveStockReq,
        AdjustStockReq,
        ReallocateReq,
        OrderLineReq,
        CreateOrderReq,
        OrderStepReq,
        ReceiveLineReq,
        ReceiveOrderReq,
        StartStocktakeReq,
        CountReq,
    );
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(super::PATH);
        let fresh = super::typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            // CI checks the bindings; it never rewrites them.
            assert!(
                std::env::var_os("CI").is_none(),
                "UPDATE_BINDINGS is refused when CI is set"
            );
            std::fs::write(&path, &fresh).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == fresh,
            "{} is out of date with the Rust types: run UPDATE_BINDINGS=1 cargo test -p clinic-desktop bindings",
            path.display()
        );
    }
}
