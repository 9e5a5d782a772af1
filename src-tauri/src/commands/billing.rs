use super::*;
use clinic_client::billing::closing::PeriodClosing;
use clinic_client::billing::desk::{
    BillingHome, CashUpScreen, ClaimsScreen, InvoiceScreen, LineReq, PatientAccount, PeriodScreen,
    Printed,
};
use clinic_client::billing::insurance::ClaimDecision;
use clinic_client::billing::invoices::LineSpec;
use clinic_store::billing::InvoiceFilter;

fn specs(lines: Vec<LineReq>) -> Vec<LineSpec> {
    lines.into_iter().map(LineSpec::from).collect()
}

#[tauri::command]
pub async fn billing_home(app: AppHandle, req: InvoicesReq) -> Answer<BillingHome> {
    run(app, "billing_home", move |d| {
        let from = req
            .from
            .as_deref()
            .map(|s| parse_date("from", s))
            .transpose()?;
        let to = req.to.as_deref().map(|s| parse_date("to", s)).transpose()?;
        d.with(|w| {
            w.billing().home(&InvoiceFilter {
                patient: req.patient_id,
                statuses: req.status.map(|s| vec![s]),
                unpaid_only: req.unpaid_only,
                conflicts_only: req.conflicts_only,
                from,
                to,
                limit: req.limit.clamp(1, 1000),
            })
        })
    })
    .await
}

#[tauri::command]
pub async fn invoice(app: AppHandle, req: IdReq) -> Answer<InvoiceScreen> {
    run(app, "invoice", move |d| {
        d.with(|w| w.billing().screen(req.id))
    })
    .await
}

#[tauri::command]
pub async fn patient_account(app: AppHandle, req: IdReq) -> Answer<Option<PatientAccount>> {
    run(app, "patient_account", move |d| {
        d.with(|w| w.patient_account(req.id))
    })
    .await
}

#[tauri::command]
pub async fn create_invoice(app: AppHandle, req: CreateInvoiceReq) -> Answer<InvoiceScreen> {
    run(app, "create_invoice", move |d| {
        d.change(|w| {
            let i = w.billing().create_invoice(
                req.patient_id,
                &specs(req.lines),
                req.appointment_id,
                None,
                req.discount.as_deref(),
            )?;
            w.billing().screen_after_change(i.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn invoice_for_appointment(app: AppHandle, req: IdReq) -> Answer<InvoiceScreen> {
    run(app, "invoice_for_appointment", move |d| {
        d.change(|w| {
            let i = w.billing().draft_for_appointment(req.id)?;
            w.billing().screen_after_change(i.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn invoice_for_encounter(app: AppHandle, req: IdReq) -> Answer<InvoiceScreen> {
    run(app, "invoice_for_encounter", move |d| {
        d.change(|w| {
            let i = w.billing().draft_for_encounter(req.id)?;
            w.billing().screen_after_change(i.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn edit_invoice(app: AppHandle, req: EditInvoiceReq) -> Answer<InvoiceScreen> {
    run(app, "edit_invoice", move |d| {
        d.change(|w| {
            let lines = specs(req.lines);
            w.billing().edit_invoice(
                req.id,
                Some(&lines),
                Some(req.discount.as_deref().unwrap_or("0")),
                Some(&req.notes),
            )?;
            w.billing().screen_after_change(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn discard_invoice(app: AppHandle, req: IdReq) -> Answer<InvoiceScreen> {
    run(app, "discard_invoice", move |d| {
        d.change(|w| {
            w.billing().discard_invoice(req.id)?;
            w.billing().screen_after_change(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn issue_invoice(app: AppHandle, req: IdReq) -> Answer<InvoiceScreen> {
    run(app, "issue_invoice", move |d| {
        d.change(|w| {
            w.billing().issue_invoice(req.id)?;
            w.billing().screen_after_change(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn void_invoice(app: AppHandle, req: ReasonReq) -> Answer<InvoiceScreen> {
    run(app, "void_invoice", move |d| {
        d.change(|w| {
            w.billing().void_invoice(req.id, &req.reason)?;
            w.billing().screen_after_change(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn take_payment(app: AppHandle, req: PaymentReq) -> Answer<InvoiceScreen> {
    run(app, "take_payment", move |d| {
        let received_on = req
            .received_on
            .as_deref()
            .map(|s| parse_date("date", s))
            .transpose()?;
        d.change(|w| {
            w.billing().take_payment(
                req.invoice_id,
                &req.amount,
                req.method,
                received_on,
                req.reference.as_deref(),
            )?;
            w.billing().screen_after_change(req.invoice_id)
        })
    })
    .await
}

#[tauri::command]
pub async fn refund_payment(app: AppHandle, req: RefundReq) -> Answer<InvoiceScreen> {
    run(app, "refund_payment", move |d| {
        d.change(|w| {
            let r = w
                .billing()
                .refund(req.payment_id, &req.amount, &req.reason, None)?;
            w.billing().screen_after_change(r.invoice_id)
        })
    })
    .await
}

#[tauri::command]
pub async fn credit_invoice(app: AppHandle, req: CreditReq) -> Answer<InvoiceScreen> {
    run(app, "credit_invoice", move |d| {
        d.change(|w| {
            let lines: Vec<usize> = req.lines.iter().map(|l| *l as usize).collect();
            w.billing().credit(req.id, &lines, &req.reason)?;
            w.billing().screen_after_change(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn resolve_money_conflict(
    app: AppHandle,
    req: MoneyConflictReq,
) -> Answer<InvoiceScreen> {
    run(app, "resolve_money_conflict", move |d| {
        d.change(|w| {
            w.billing()
                .resolve_conflict(req.invoice_id, req.entry, &req.note)?;
            w.billing().screen_after_change(req.invoice_id)
        })
    })
    .await
}

#[tauri::command]
pub async fn print_document(app: AppHandle, req: PrintReq) -> Answer<Printed> {
    run(app, "print_document", move |d| {
        d.with(|w| w.billing().print(req.kind, req.id))
    })
    .await
}

#[tauri::command]
pub async fn claims(app: AppHandle, req: ClaimsReq) -> Answer<ClaimsScreen> {
    run(app, "claims", move |d| {
        d.with(|w| w.billing().claims_screen(req.open_only))
    })
    .await
}

#[tauri::command]
pub async fn add_claim(app: AppHandle, req: AddClaimReq) -> Answer<InvoiceScreen> {
    run(app, "add_claim", move |d| {
        d.change(|w| {
            w.billing().add_claim(
                req.invoice_id,
                &req.provider,
                &req.amount,
                req.policy_number.as_deref(),
            )?;
            w.billing().screen_after_change(req.invoice_id)
        })
    })
    .await
}

#[tauri::command]
pub async fn decide_claim(app: AppHandle, req: DecideClaimReq) -> Answer<InvoiceScreen> {
    run(app, "decide_claim", move |d| {
        let date = req
            .date
            .as_deref()
            .map(|s| parse_date("date", s))
            .transpose()?;
        d.change(|w| {
            let c = w.billing().decide_claim(
                &req.claim_id.to_string(),
                ClaimDecision {
                    status: req.status.as_str().to_string(),
                    approved: req.approved,
                    reason: req.reason,
                    date,
                },
            )?;
            w.billing().screen_after_change(c.claim.invoice_id)
        })
    })
    .await
}

#[tauri::command]
pub async fn add_plan(app: AppHandle, req: AddPlanReq) -> Answer<InvoiceScreen> {
    run(app, "add_plan", move |d| {
        let first = req
            .first_due
            .as_deref()
            .map(|s| parse_date("first_due", s))
            .transpose()?;
        d.change(|w| {
            w.billing()
                .add_plan(req.invoice_id, req.instalments, req.every, first)?;
            w.billing().screen_after_change(req.invoice_id)
        })
    })
    .await
}

#[tauri::command]
pub async fn cash_up(app: AppHandle, req: DayReq) -> Answer<CashUpScreen> {
    run(app, "cash_up", move |d| {
        let day = req
            .date
            .as_deref()
            .map(|s| parse_date("date", s))
            .transpose()?;
        d.with(|w| w.billing().cash_up_screen(day))
    })
    .await
}

#[tauri::command]
pub async fn close_cash_up(app: AppHandle, req: CloseCashUpReq) -> Answer<CashUpScreen> {
    run(app, "close_cash_up", move |d| {
        let day = req
            .date
            .as_deref()
            .map(|s| parse_date("date", s))
            .transpose()?;
        d.change(|w| {
            w.billing()
                .close_cash_up_screen(day, req.counted, req.reason.as_deref())
        })
    })
    .await
}

#[tauri::command]
pub async fn period_lock(app: AppHandle) -> Answer<PeriodScreen> {
    run(app, "period_lock", move |d| {
        d.with(|w| w.billing().period_screen())
    })
    .await
}

#[tauri::command]
pub async fn preview_close(app: AppHandle, req: UntilReq) -> Answer<PeriodClosing> {
    run(app, "preview_close", move |d| {
        let until = parse_date("until", &req.until)?;
        d.with(|w| w.billing().preview_close(until))
    })
    .await
}

#[tauri::command]
pub async fn close_period(app: AppHandle, req: ClosePeriodReq) -> Answer<PeriodClosing> {
    run(app, "close_period", move |d| {
        let until = parse_date("until", &req.until)?;
        d.change(|w| w.billing().close_period(until, &req.note))
    })
    .await
}
