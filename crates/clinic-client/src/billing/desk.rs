//! What the desktop's billing screens show: the invoices list with
//! balances, one invoice with what the person may do to it, a patient's
//! account on their summary, and printing to a PDF file the system's viewer
//! opens; the manager's side: insurance claims, instalment plans on an
//! invoice, the desk's cash-up, closing a period and the ageing of what is
//! owed. Amounts stay decimal strings; the screens format them in the
//! clinic's locale and currency ([`MoneyFormat`]).

use super::closing::CashUpView;
use super::insurance::{ClaimView, PlanView};
use super::invoices::{AccountView, Ageing, InvoiceRow, InvoiceView, LineSpec};
use super::{Billing, PriceView};
use crate::workstation::Workstation;
use chrono::{Datelike, NaiveDate};
use clinic_core::billing::{
    closing_permission, InstalmentPlan, InsuranceClaim, InvoiceStatus, PaymentKind, PaymentMethod,
    PeriodLock,
};
use clinic_core::permissions::{Action, Module, SensitiveFlag};
use clinic_core::scheduling::AppointmentStatus;
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::billing::{from_minor, InvoiceFilter};
use rust_decimal::Decimal;
use serde::Serialize;
use std::path::PathBuf;
use uuid::Uuid;

/// How the screens show money: the clinic's currency and locale.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MoneyFormat {
    pub currency: String,
    pub locale: String,
    pub digits: u32,
}

/// The billing screen: invoices with their balances, and the totals.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BillingHome {
    pub invoices: Vec<InvoiceRow>,
    pub money: MoneyFormat,
    /// Owed to the clinic, and held in credit by patients, over all invoices.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub owed: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub credit: Decimal,
    /// The price list offered for new invoices.
    pub prices: Vec<PriceView>,
    /// May close the books (the period close screen).
    pub can_close_period: bool,
    /// What is owed by age (managers: those who correct invoices).
    pub ageing: Option<Ageing>,
}

/// A payment as the invoice screen lists it, with what is left to refund.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PaymentRow {
    pub id: Uuid,
    pub kind: PaymentKind,
    pub method: PaymentMethod,
    pub method_label: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub amount: Decimal,
    pub received_on: chrono::NaiveDate,
    pub receipt_number: Option<String>,
    pub reason: Option<String>,
    /// For a payment: what may still be refunded.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub refundable: Option<Decimal>,
}

/// One invoice, and what the person looking may do with it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InvoiceScreen {
    pub view: InvoiceView,
    pub money: MoneyFormat,
    pub payments: Vec<PaymentRow>,
    /// The price list (for a draft's lines).
    pub prices: Vec<PriceView>,
    /// Edits a draft; records an insurer's decision on a claim.
    pub can_edit: bool,
    /// Takes payment; claims from an insurer; sets up an instalment plan.
    pub can_take_payment: bool,
    /// Refunds, credit notes, voiding, settling conflicts (managers).
    pub can_correct: bool,
    /// Today at the site (a plan's first instalment, a decision's day).
    pub today: NaiveDate,
    /// Its claims to insurers, newest first.
    pub claims: Vec<ClaimView>,
    /// Its instalment plan, where it stands today.
    pub plan: Option<PlanView>,
}

/// A completed appointment, or a signed walk-in consultation, without an
/// invoice yet.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Billable {
    pub appointment_id: Option<Uuid>,
    pub encounter_id: Option<Uuid>,
    pub type_name: String,
    pub start: chrono::DateTime<chrono::Utc>,
}

/// A patient's money with the clinic, for their summary.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PatientAccount {
    pub account: AccountView,
    pub money: MoneyFormat,
    /// Their invoices, newest first (issued and drafts).
    pub invoices: Vec<InvoiceRow>,
    /// Completed appointments not invoiced yet.
    pub billable: Vec<Billable>,
    /// Their instalment plans with an instalment due by today and not paid.
    pub overdue_plans: Vec<PlanView>,
    /// Today at the site.
    pub today: NaiveDate,
}

/// What every screen of the billing area reads: the clinic's money format,
/// today at the site, and which of the area's screens the person may use.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BillingFrame {
    pub money: MoneyFormat,
    pub today: NaiveDate,
    /// Takes payment, claims, plans, and closes this desk's day.
    pub can_take_payment: bool,
    /// Records insurers' decisions.
    pub can_decide_claims: bool,
    /// Closes the books (administration edit with the financial-data flag).
    pub can_close_period: bool,
}

/// The claims list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClaimsScreen {
    pub frame: BillingFrame,
    pub claims: Vec<ClaimView>,
}

/// This desk's day: takings by method, and its cash-up once closed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CashUpScreen {
    pub frame: BillingFrame,
    pub day: CashUpView,
}

/// Closing the books: up to which day they are closed, and the day a
/// close would take by default.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PeriodScreen {
    pub frame: BillingFrame,
    pub lock: Option<PeriodLock>,
    /// The last day of the previous month.
    pub suggested_until: NaiveDate,
}

/// One method's count at a cash-up, as the screen sends it.
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CountedReq {
    pub method: PaymentMethod,
    pub amount: String,
}

/// A printed document: the PDF file, and whether the viewer was asked to open it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Printed {
    pub path: String,
    pub opened: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PrintKind {
    Invoice,
    Receipt,
    CreditNote,
}

impl Billing<'_> {
    pub(crate) fn money_format(&self) -> ClinicResult<MoneyFormat> {
        let s = self.settings()?;
        Ok(MoneyFormat {
            digits: s.minor_digits(),
            currency: s.currency,
            locale: s.locale,
        })
    }

    fn allows(&self, action: Action) -> bool {
        self.ws.session().is_some_and(|s| {
            s.permissions.allows(Module::Billing, action)
                && s.permissions.has_flag(SensitiveFlag::FinancialData)
        })
    }

    /// The billing screen's list.
    pub fn home(&mut self, f: &InvoiceFilter) -> ClinicResult<BillingHome> {
        let invoices = self.invoices(f)?;
        let money = self.money_format()?;
        let (owed, credit) = self.ws.store()?.db().balance_totals(&money.currency)?;
        let prices = self
            .prices()?
            .into_iter()
            .filter(|p| p.active && p.price.is_some())
            .collect();
        let ageing = if self.allows(Action::Delete) {
            Some(self.ageing()?)
        } else {
            None
        };
        Ok(BillingHome {
            invoices,
            prices,
            owed: from_minor(owed, &money.currency),
            credit: from_minor(credit, &money.currency),
            money,
            can_close_period: self.may_close(),
            ageing,
        })
    }

    fn may_close(&self) -> bool {
        self.ws
            .session()
            .is_some_and(|s| s.permissions.check(&closing_permission()).is_ok())
    }

    /// What every billing-area screen reads.
    pub fn frame(&self) -> ClinicResult<BillingFrame> {
        Ok(BillingFrame {
            money: self.money_format()?,
            today: self.today(self.ws.now())?,
            can_take_payment: self.allows(Action::Create),
            can_decide_claims: self.allows(Action::Edit),
            can_close_period: self.may_close(),
        })
    }

    /// The claims list (`open`: pending or partly paid only).
    pub fn claims_screen(&mut self, open: bool) -> ClinicResult<ClaimsScreen> {
        let claims = self.claims(open)?;
        Ok(ClaimsScreen {
            frame: self.frame()?,
            claims,
        })
    }

    /// This desk's day (`None`: today at the site).
    pub fn cash_up_screen(&mut self, day: Option<NaiveDate>) -> ClinicResult<CashUpScreen> {
        let day = self.cash_up(day)?;
        Ok(CashUpScreen {
            frame: self.frame()?,
            day,
        })
    }

    /// Closes this desk's day with what was counted per method.
    pub fn close_cash_up_screen(
        &mut self,
        day: Option<NaiveDate>,
        counted: Vec<CountedReq>,
        reason: Option<&str>,
    ) -> ClinicResult<CashUpScreen> {
        let counted: Vec<(PaymentMethod, String)> =
            counted.into_iter().map(|c| (c.method, c.amount)).collect();
        let day = self.close_cash_up(day, &counted, reason)?;
        Ok(CashUpScreen {
            frame: self.frame()?,
            day,
        })
    }

    /// Closing the books: where they stand (those who see money).
    pub fn period_screen(&mut self) -> ClinicResult<PeriodScreen> {
        self.act(Action::View)?;
        let frame = self.frame()?;
        let suggested_until =
            frame.today.with_day(1).unwrap_or(frame.today) - chrono::Duration::days(1);
        Ok(PeriodScreen {
            lock: self.period_lock()?,
            suggested_until,
            frame,
        })
    }

    /// One invoice as its screen shows it (an audited read).
    pub fn screen(&mut self, id: Uuid) -> ClinicResult<InvoiceScreen> {
        let view = self.show_invoice(id)?;
        self.screen_of(view)
    }

    /// The screen after a change the caller made (no read event of its own).
    pub fn screen_after_change(&mut self, id: Uuid) -> ClinicResult<InvoiceScreen> {
        let view = self.after_change(id)?;
        self.screen_of(view)
    }

    fn screen_of(&mut self, view: InvoiceView) -> ClinicResult<InvoiceScreen> {
        let prices = if view.invoice.status == InvoiceStatus::Draft {
            self.prices()?
                .into_iter()
                .filter(|p| p.active && p.price.is_some())
                .collect()
        } else {
            vec![]
        };
        let payments = view
            .payments
            .iter()
            .map(|p| PaymentRow {
                id: p.id,
                kind: p.kind,
                method: p.method,
                method_label: p.method.label().into(),
                amount: p.amount,
                received_on: p.received_on,
                receipt_number: p.receipt_number.clone(),
                reason: p.reason.clone(),
                refundable: (p.kind == PaymentKind::Payment && p.method != PaymentMethod::Credit)
                    .then(|| view.invoice.refundable(p.id)),
            })
            .collect();
        let today = self.today(self.ws.now())?;
        let db = self.ws.store()?.db();
        let plan = db
            .document::<InstalmentPlan>(InstalmentPlan::id_for(view.invoice.id))?
            .map(|plan| PlanView {
                progress: plan.progress(&view.invoice, today),
                patient_name: view.patient_name.clone(),
                plan,
            });
        let mut claims: Vec<ClaimView> = db
            .query_docs(
                "SELECT doc FROM records WHERE kind = 'insurance_claim'
                 AND json_extract(doc, '$.invoice_id') = ?1",
                &[&view.invoice.id.to_string()],
            )?
            .into_iter()
            .filter_map(|d| serde_json::from_value::<InsuranceClaim>(d).ok())
            .map(|claim| ClaimView {
                claim,
                patient_name: view.patient_name.clone(),
                invoice_balance: view.balance,
            })
            .collect();
        claims.sort_by(|a, b| {
            (b.claim.submitted_on, &b.claim.number).cmp(&(a.claim.submitted_on, &a.claim.number))
        });
        Ok(InvoiceScreen {
            money: self.money_format()?,
            payments,
            prices,
            can_edit: self.allows(Action::Edit),
            can_take_payment: self.allows(Action::Create),
            can_correct: self.allows(Action::Delete),
            today,
            claims,
            plan,
            view,
        })
    }

    /// Writes a document's PDF to this workstation's printouts folder (mode
    /// 0600, atomically) and asks the system's viewer to open it.
    pub fn print(&mut self, kind: PrintKind, id: Uuid) -> ClinicResult<Printed> {
        let (pdf, name) = match kind {
            PrintKind::Invoice => {
                let n = self
                    .load(id)?
                    .number
                    .unwrap_or_else(|| format!("draft-{id}"));
                (self.invoice_pdf(id)?, n)
            }
            PrintKind::Receipt => {
                let n = self
                    .load_payment(id)?
                    .receipt_number
                    .unwrap_or_else(|| id.to_string());
                (self.receipt_pdf(id)?, n)
            }
            PrintKind::CreditNote => {
                let n = self
                    .ws
                    .store()?
                    .db()
                    .credit_note(id)?
                    .map(|c| c.number)
                    .unwrap_or_else(|| id.to_string());
                (self.credit_note_pdf(id)?, n)
            }
        };
        let dir = self.ws.dir().join("printouts");
        std::fs::create_dir_all(&dir).map_err(ClinicError::internal)?;
        let path: PathBuf = dir.join(format!("{name}.pdf"));
        clinic_print::write_pdf(&path, &pdf)
            .map_err(|e| ClinicError::internal(format!("writing {}: {e}", path.display())))?;
        Ok(Printed {
            opened: open_with_viewer(&path),
            path: path.display().to_string(),
        })
    }
}

/// Asks the desktop to open `path` in its PDF viewer (not in tests, nor
/// where `CLINIC_NO_OPEN` is set).
fn open_with_viewer(path: &std::path::Path) -> bool {
    if std::env::var_os("CLINIC_NO_OPEN").is_some() {
        return false;
    }
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(target_os = "windows") {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

impl Workstation {
    /// A patient's account for their summary (`None` for a role that does
    /// not see money).
    pub fn patient_account(&mut self, patient: Uuid) -> ClinicResult<Option<PatientAccount>> {
        let sees = self.session().is_some_and(|s| {
            s.permissions.allows(Module::Billing, Action::View)
                && s.permissions.has_flag(SensitiveFlag::FinancialData)
        });
        if !sees {
            return Ok(None);
        }
        let invoices = self.billing().invoices(&InvoiceFilter {
            patient: Some(patient),
            limit: 50,
            ..Default::default()
        })?;
        let account = self.billing().account(patient)?;
        let money = self.billing().money_format()?;
        let billable = {
            let appts = self.scheduling().list_appointments(
                &clinic_store::scheduling::AppointmentFilter {
                    patient_id: Some(patient),
                    include_ended: true,
                    ..Default::default()
                },
            )?;
            let db = self.store()?.db();
            let mut out = Vec::new();
            for a in appts
                .into_iter()
                .filter(|a| a.status == AppointmentStatus::Completed)
            {
                let invoiced = db
                    .appointment_invoice(a.id)?
                    .is_some_and(|i| i.status != InvoiceStatus::Discarded);
                if !invoiced {
                    out.push(Billable {
                        appointment_id: Some(a.id),
                        encounter_id: None,
                        type_name: a.type_name.clone(),
                        start: a.start,
                    });
                }
            }
            for e in db.patient_encounters(patient, 20)? {
                let walk_in = e.appointment_id.is_none() && e.is_signed();
                let invoiced = db
                    .invoice(clinic_core::billing::Invoice::id_for_encounter(e.id))?
                    .is_some_and(|i| i.status != InvoiceStatus::Discarded);
                if walk_in && !invoiced {
                    out.push(Billable {
                        appointment_id: None,
                        encounter_id: Some(e.id),
                        type_name: clinic_core::clinical::encounter_type(&e.encounter_type)
                            .map_or("Consultation", |t| t.name)
                            .to_string(),
                        start: e.started_at,
                    });
                }
            }
            out.sort_by_key(|b| std::cmp::Reverse(b.start));
            out.truncate(10);
            out
        };
        let now = self.now();
        let today = self.billing().today(now)?;
        let overdue_plans = self.billing().plans_on(Some(patient), true, today)?;
        Ok(Some(PatientAccount {
            account,
            money,
            invoices,
            billable,
            overdue_plans,
            today,
        }))
    }
}

/// A line as a screen sends it.
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LineReq {
    pub code: Option<String>,
    pub description: Option<String>,
    pub quantity: String,
    pub unit_price: Option<String>,
    pub discount_percent: Option<String>,
    pub tax_rate: Option<String>,
}

impl From<LineReq> for LineSpec {
    fn from(l: LineReq) -> LineSpec {
        let keep = |s: Option<String>| s.filter(|x| !x.trim().is_empty());
        LineSpec {
            code: keep(l.code),
            description: keep(l.description),
            quantity: l.quantity,
            unit_price: keep(l.unit_price),
            discount_percent: keep(l.discount_percent),
            tax_rate: keep(l.tax_rate),
            discount_code: None,
        }
    }
}
