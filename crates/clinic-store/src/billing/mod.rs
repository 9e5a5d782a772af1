//! Storage of billing: invoices, payments (and refunds) and credit notes in
//! tables of their own, with amounts also kept as integers of the minor
//! unit so balances are summed exactly in SQL; the price list and the
//! clinic's settings are documents in `records`.

use crate::records::Documents;
use crate::{ts, Db, StoreResult};
use chrono::NaiveDate;
use clinic_core::billing::money::minor_digits;
use clinic_core::billing::{
    CashUp, ClinicSettings, CreditNote, Invoice, Payment, PaymentKind, PriceItem,
};
use clinic_core::sync::RecordKind;
use clinic_core::ClinicError;
use rusqlite::params;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use uuid::Uuid;

/// `x` in the minor unit of `currency` (cents), exact.
pub fn to_minor(x: Decimal, currency: &str) -> i64 {
    (x * Decimal::from(10i64.pow(minor_digits(currency))))
        .trunc()
        .to_i64()
        .unwrap_or(i64::MAX)
}

/// An amount in the minor unit back as a decimal with the currency's digits.
pub fn from_minor(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, minor_digits(currency))
}

/// One patient's money with the clinic, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    pub patient_id: Uuid,
    pub currency: String,
    /// What they owe on their invoices (positive balances).
    pub owed_minor: i64,
    /// What they have in credit (overpayments, as a positive number).
    pub credit_minor: i64,
    /// Invoices with something owed.
    pub open_invoices: i64,
    /// "First Last" and the patient number, as lists show them.
    pub patient_name: String,
    pub patient_number: String,
}

/// A completed appointment with no invoice yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uninvoiced {
    pub appointment: Uuid,
    pub patient: Uuid,
    pub type_name: String,
    pub start: chrono::DateTime<chrono::Utc>,
}

/// Which invoices a list shows.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub patient: Option<Uuid>,
    /// Statuses (`None`: every one but discarded).
    pub statuses: Option<Vec<String>>,
    /// Only those with something owed.
    pub unpaid_only: bool,
    /// Only those with an unresolved conflict of money.
    pub conflicts_only: bool,
    /// Created on or after / before (`YYYY-MM-DD`, inclusive).
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub limit: u32,
}

impl Db<'_> {
    pub fn put_invoice(&self, i: &Invoice) -> StoreResult<()> {
        let doc = serde_json::to_string(i).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO invoices (id, tenant_id, patient_id, appointment_id, number, status, currency,
                     issued_on, due_on, total_minor, balance_minor, open_conflicts, created_at, doc, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id,
                     appointment_id = excluded.appointment_id, number = excluded.number,
                     status = excluded.status, currency = excluded.currency, issued_on = excluded.issued_on,
                     due_on = excluded.due_on, total_minor = excluded.total_minor,
                     balance_minor = excluded.balance_minor, open_conflicts = excluded.open_conflicts,
                     created_at = excluded.created_at, doc = excluded.doc, updated_at = excluded.updated_at",
            )?
            .execute(params![
                i.id.to_string(),
                i.tenant_id.to_string(),
                i.patient_id.to_string(),
                i.appointment_id.map(|a| a.to_string()),
                i.number,
                i.status.as_str(),
                i.currency,
                i.issued_on.map(|d| d.to_string()),
                i.due_on.map(|d| d.to_string()),
                to_minor(i.totals.total, &i.currency),
                to_minor(i.balance(), &i.currency),
                i.open_conflicts() as i64,
                ts(i.created_at),
                doc,
                ts(i.updated_at),
            ])?;
        Ok(())
    }

    pub fn invoice(&self, id: Uuid) -> StoreResult<Option<Invoice>> {
        self.doc("SELECT doc FROM invoices WHERE id = ?1", &[&id.to_string()])
    }

    pub fn invoice_by_number(&self, number: &str) -> StoreResult<Option<Invoice>> {
        self.doc(
            "SELECT doc FROM invoices WHERE number = ?1",
            &[&number.trim().to_uppercase()],
        )
    }

    /// Invoices as a list shows them, newest first.
    pub fn invoices(&self, f: &InvoiceFilter) -> StoreResult<Vec<Invoice>> {
        let statuses = f
            .statuses
            .as_ref()
            .map(|s| serde_json::to_string(s).unwrap_or_default());
        self.docs(
            "SELECT doc FROM invoices
             WHERE (?1 IS NULL OR patient_id = ?1)
               AND (?2 IS NULL AND status <> 'discarded' OR status IN (SELECT value FROM json_each(?2)))
               AND (?3 = 0 OR balance_minor > 0)
               AND (?4 = 0 OR open_conflicts > 0)
               AND (?5 IS NULL OR created_at >= ?5)
               AND (?6 IS NULL OR created_at < ?6)
             ORDER BY created_at DESC, id DESC LIMIT ?7",
            &[
                &f.patient.map(|p| p.to_string()),
                &statuses,
                &f.unpaid_only,
                &f.conflicts_only,
                &f.from.map(|d| d.to_string()),
                &f.to.map(|d| (d + chrono::Duration::days(1)).to_string()),
                &f.limit.max(1),
            ],
        )
    }

    /// The invoice drafted for an appointment, if any.
    pub fn appointment_invoice(&self, appointment: Uuid) -> StoreResult<Option<Invoice>> {
        self.invoice(Invoice::id_for_appointment(appointment))
    }

    /// A patient's money with the clinic, per currency.
    pub fn patient_balance(&self, patient: Uuid) -> StoreResult<Vec<BalanceRow>> {
        self.balances(
            "invoices INDEXED BY invoices_patient WHERE patient_id = ?1 AND balance_minor <> 0",
            &[&patient.to_string()],
        )
    }

    /// Every patient who owes or holds credit: the clinic's outstanding
    /// balances, most owed first.
    pub fn outstanding_balances(&self) -> StoreResult<Vec<BalanceRow>> {
        self.balances(
            "invoices INDEXED BY invoices_unsettled WHERE balance_minor <> 0",
            &[],
        )
    }

    /// What the clinic is owed and what patients hold in credit, in
    /// `currency`'s minor unit (the sums alone, without a row per patient).
    pub fn balance_totals(&self, currency: &str) -> StoreResult<(i64, i64)> {
        Ok(self.query_row(
            "SELECT coalesce(sum(CASE WHEN balance_minor > 0 THEN balance_minor ELSE 0 END), 0),
                    coalesce(sum(CASE WHEN balance_minor < 0 THEN -balance_minor ELSE 0 END), 0)
             FROM invoices INDEXED BY invoices_unsettled WHERE balance_minor <> 0 AND currency = ?1",
            [currency],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// What is owed in `currency` by the age of the invoice on `today`
    /// (days since it was issued): `[0–30, 31–60, 61–90, 90+]`, each as
    /// (minor units, invoices).
    pub fn ageing(&self, currency: &str, today: NaiveDate) -> StoreResult<[(i64, i64); 4]> {
        let mut st = self.conn.prepare_cached(
            "SELECT CASE WHEN age <= 30 THEN 0 WHEN age <= 60 THEN 1 WHEN age <= 90 THEN 2 ELSE 3 END AS bucket,
                    sum(balance_minor), count(*)
             FROM (SELECT balance_minor,
                          julianday(?2) - julianday(coalesce(issued_on, ?2)) AS age
                   FROM invoices INDEXED BY invoices_owing_by_issue
                   WHERE balance_minor > 0 AND currency = ?1)
             GROUP BY bucket",
        )?;
        let mut out = [(0, 0); 4];
        let rows = st.query_map(params![currency, today.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for r in rows {
            let (b, sum, n) = r?;
            out[b.clamp(0, 3) as usize] = (sum, n);
        }
        Ok(out)
    }

    /// `filter`: the invoices summed (`invoices INDEXED BY … WHERE …`).
    fn balances(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Vec<BalanceRow>> {
        let sql = format!(
            "SELECT b.patient_id, b.currency, b.owed, b.credit, b.open,
                    coalesce(p.first_name || ' ' || p.last_name, '(unknown patient)'),
                    coalesce(p.patient_number, '')
             FROM (SELECT patient_id, currency,
                          sum(CASE WHEN balance_minor > 0 THEN balance_minor ELSE 0 END) AS owed,
                          sum(CASE WHEN balance_minor < 0 THEN -balance_minor ELSE 0 END) AS credit,
                          sum(balance_minor > 0) AS open
                   FROM {filter}
                   GROUP BY currency, patient_id) b
             LEFT JOIN patients p ON p.id = b.patient_id
             ORDER BY b.owed DESC, b.patient_id"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(args, |r| {
            Ok(BalanceRow {
                patient_id: crate::parse_uuid(&r.get::<_, String>(0)?),
                currency: r.get(1)?,
                owed_minor: r.get(2)?,
                credit_minor: r.get(3)?,
                open_invoices: r.get(4)?,
                patient_name: r.get(5)?,
                patient_number: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn invoice_count(&self) -> StoreResult<i64> {
        Ok(self.query_row("SELECT count(*) FROM invoices", [], |r| r.get(0))?)
    }

    /// The newest `limit` completed appointments that have no invoice.
    pub fn completed_without_invoice(&self, limit: u32) -> StoreResult<Vec<Uninvoiced>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, patient_id, json_extract(doc, '$.type_name'), start_at FROM appointments
             WHERE status = 'completed' ORDER BY start_at DESC LIMIT ?1",
        )?;
        let rows = st
            .query_map([limit], |r| {
                Ok(Uninvoiced {
                    appointment: crate::parse_uuid(&r.get::<_, String>(0)?),
                    patient: crate::parse_uuid(&r.get::<_, String>(1)?),
                    type_name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    start: crate::parse_ts(&r.get::<_, String>(3)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if self.appointment_invoice(row.appointment)?.is_none() {
                out.push(row);
            }
        }
        Ok(out)
    }

    // ---- payments ----

    pub fn put_payment(&self, p: &Payment) -> StoreResult<()> {
        let doc = serde_json::to_string(p).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO payments (id, tenant_id, patient_id, invoice_id, kind, method, amount_minor,
                     received_on, receipt_number, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, amount_minor = excluded.amount_minor,
                     received_on = excluded.received_on, receipt_number = excluded.receipt_number",
            )?
            .execute(params![
                p.id.to_string(),
                p.tenant_id.to_string(),
                p.patient_id.to_string(),
                p.invoice_id.to_string(),
                match p.kind {
                    PaymentKind::Payment => "payment",
                    PaymentKind::Refund => "refund",
                },
                p.method.as_str(),
                to_minor(p.amount, &p.currency),
                p.received_on.to_string(),
                p.receipt_number,
                doc,
            ])?;
        Ok(())
    }

    pub fn payment(&self, id: Uuid) -> StoreResult<Option<Payment>> {
        self.doc("SELECT doc FROM payments WHERE id = ?1", &[&id.to_string()])
    }

    pub fn payment_by_receipt(&self, number: &str) -> StoreResult<Option<Payment>> {
        self.doc(
            "SELECT doc FROM payments WHERE receipt_number = ?1",
            &[&number.trim().to_uppercase()],
        )
    }

    /// An invoice's payments and refunds, in the order they were recorded.
    pub fn invoice_payments(&self, invoice: Uuid) -> StoreResult<Vec<Payment>> {
        self.docs(
            "SELECT doc FROM payments WHERE invoice_id = ?1 ORDER BY json_extract(doc, '$.recorded_at'), id",
            &[&invoice.to_string()],
        )
    }

    /// The payments and refunds a desk took on a day (its cash-up), in
    /// the order they were recorded.
    pub fn desk_day_payments(&self, desk: Uuid, day: NaiveDate) -> StoreResult<Vec<Payment>> {
        self.docs(
            "SELECT doc FROM payments WHERE received_on = ?1 AND json_extract(doc, '$.desk_id') = ?2
             ORDER BY json_extract(doc, '$.recorded_at'), id",
            &[&day.to_string(), &desk.to_string()],
        )
    }

    /// A desk's cash-ups of the days `from..=to`.
    pub fn desk_cash_ups(
        &self,
        desk: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<CashUp>> {
        self.docs(
            "SELECT doc FROM records WHERE kind = 'cash_up' AND json_extract(doc, '$.desk_id') = ?1
             AND json_extract(doc, '$.day') BETWEEN ?2 AND ?3 ORDER BY json_extract(doc, '$.day')",
            &[&desk.to_string(), &from.to_string(), &to.to_string()],
        )
    }

    // ---- credit notes ----

    pub fn put_credit_note(&self, c: &CreditNote) -> StoreResult<()> {
        let doc = serde_json::to_string(c).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO credit_notes (id, tenant_id, invoice_id, patient_id, number, issued_on, total_minor, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, number = excluded.number,
                     total_minor = excluded.total_minor",
            )?
            .execute(params![
                c.id.to_string(),
                c.tenant_id.to_string(),
                c.invoice_id.to_string(),
                c.patient_id.to_string(),
                c.number,
                c.issued_on.to_string(),
                to_minor(c.totals.total, &c.currency),
                doc,
            ])?;
        Ok(())
    }

    pub fn credit_note(&self, id: Uuid) -> StoreResult<Option<CreditNote>> {
        self.doc(
            "SELECT doc FROM credit_notes WHERE id = ?1",
            &[&id.to_string()],
        )
    }

    pub fn credit_note_by_number(&self, number: &str) -> StoreResult<Option<CreditNote>> {
        self.doc(
            "SELECT doc FROM credit_notes WHERE number = ?1",
            &[&number.trim().to_uppercase()],
        )
    }

    pub fn invoice_credit_notes(&self, invoice: Uuid) -> StoreResult<Vec<CreditNote>> {
        self.docs(
            "SELECT doc FROM credit_notes WHERE invoice_id = ?1 ORDER BY number",
            &[&invoice.to_string()],
        )
    }

    // ---- price list and settings (documents) ----

    /// The price list, by code.
    pub fn price_items(&self) -> StoreResult<Vec<PriceItem>> {
        let mut items: Vec<PriceItem> = Documents::of_kind(self, PriceItem::KIND)?
            .into_iter()
            .filter_map(|r| r.get::<PriceItem>().cloned())
            .collect();
        items.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(items)
    }

    pub fn price_item(&self, id: Uuid) -> StoreResult<Option<PriceItem>> {
        Ok(Documents::load_doc(self, id)?.and_then(|r| r.get::<PriceItem>().cloned()))
    }

    /// The clinic's settings (the defaults until someone saves them).
    pub fn clinic_settings(&self) -> StoreResult<ClinicSettings> {
        let tenant = self.tenant()?.id;
        Ok(Documents::load_doc(self, ClinicSettings::id_for(tenant))?
            .and_then(|r| r.get::<ClinicSettings>().cloned())
            .unwrap_or_else(|| ClinicSettings::defaults_for(tenant)))
    }
}

use crate::records::table_projection;

table_projection!(
    InvoiceProjection,
    INVOICES,
    Invoice,
    "invoices",
    invoice,
    put_invoice
);
table_projection!(
    PaymentProjection,
    PAYMENTS,
    Payment,
    "payments",
    payment,
    put_payment
);
table_projection!(
    CreditNoteProjection,
    CREDIT_NOTES,
    CreditNote,
    "credit_notes",
    credit_note,
    put_credit_note
);
