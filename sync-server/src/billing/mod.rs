//! Billing in the master: invoices, payments and credit notes in tables of
//! their own. The database holds the guarantees whatever the rules decide
//! (see the migration): numbers unique per tenant, an issued invoice's
//! content frozen, payments and credit notes never changed.

use crate::records::{BoxFuture, Projection, Written};
use crate::ServerError;
use clinic_core::billing::{CreditNote, Invoice, Payment, PaymentKind};
use clinic_core::sync::RecordKind;
use deadpool_postgres::Transaction;
use serde_json::{json, Value};
use uuid::Uuid;

/// Inserts or replaces rows given as JSON objects through `sql` (`$1` the
/// tenant, `$2` the rows).
pub(crate) async fn write_rows(
    tx: &Transaction<'_>,
    tenant: Uuid,
    sql: &str,
    rows: Vec<Value>,
) -> Result<(), ServerError> {
    if !rows.is_empty() {
        tx.execute(sql, &[&tenant, &Value::Array(rows)]).await?;
    }
    Ok(())
}

#[derive(Debug)]
pub struct InvoiceProjection;
pub static INVOICES: InvoiceProjection = InvoiceProjection;

impl Projection for InvoiceProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Invoice::KIND]
    }

    fn select(&self) -> &'static str {
        "SELECT 'invoice', id, doc_hash, doc FROM invoices"
    }

    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let rows = rows
                .iter()
                .filter_map(|w| {
                    let i = w.record.get::<Invoice>()?;
                    Some(json!({
                        "id": i.id, "patient_id": i.patient_id, "appointment_id": i.appointment_id,
                        "number": i.number, "status": i.status.as_str(), "currency": i.currency,
                        "issued_on": i.issued_on, "total": i.totals.total, "balance": i.balance(),
                        "doc": w.doc, "doc_hash": w.hash, "updated_at": i.updated_at,
                    }))
                })
                .collect();
            write_rows(
                tx,
                tenant,
                "INSERT INTO invoices (tenant_id, id, patient_id, appointment_id, number, status, currency,
                     issued_on, total, balance, doc, doc_hash, updated_at)
                 SELECT $1, x.id, x.patient_id, x.appointment_id, x.number, x.status, x.currency, x.issued_on,
                     x.total, x.balance, x.doc, x.doc_hash, x.updated_at
                 FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, patient_id uuid, appointment_id uuid,
                     number text, status text, currency text, issued_on date, total numeric, balance numeric,
                     doc jsonb, doc_hash text, updated_at timestamptz)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET patient_id = EXCLUDED.patient_id,
                     appointment_id = EXCLUDED.appointment_id, number = EXCLUDED.number,
                     status = EXCLUDED.status, currency = EXCLUDED.currency, issued_on = EXCLUDED.issued_on,
                     total = EXCLUDED.total, balance = EXCLUDED.balance, doc = EXCLUDED.doc,
                     doc_hash = EXCLUDED.doc_hash, updated_at = EXCLUDED.updated_at",
                rows,
            )
            .await
        })
    }
}

#[derive(Debug)]
pub struct PaymentProjection;
pub static PAYMENTS: PaymentProjection = PaymentProjection;

impl Projection for PaymentProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Payment::KIND]
    }

    fn select(&self) -> &'static str {
        "SELECT 'payment', id, doc_hash, doc FROM payments"
    }

    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let rows = rows
                .iter()
                .filter_map(|w| {
                    let p = w.record.get::<Payment>()?;
                    Some(json!({
                        "id": p.id, "patient_id": p.patient_id, "invoice_id": p.invoice_id,
                        "kind": match p.kind { PaymentKind::Payment => "payment", PaymentKind::Refund => "refund" },
                        "method": p.method.as_str(), "amount": p.amount, "received_on": p.received_on,
                        "receipt_number": p.receipt_number, "doc": w.doc, "doc_hash": w.hash,
                    }))
                })
                .collect();
            write_rows(
                tx,
                tenant,
                "INSERT INTO payments (tenant_id, id, patient_id, invoice_id, kind, method, amount, received_on,
                     receipt_number, doc, doc_hash)
                 SELECT $1, x.id, x.patient_id, x.invoice_id, x.kind, x.method, x.amount, x.received_on,
                     x.receipt_number, x.doc, x.doc_hash
                 FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, patient_id uuid, invoice_id uuid, kind text,
                     method text, amount numeric, received_on date, receipt_number text, doc jsonb, doc_hash text)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET doc = EXCLUDED.doc, doc_hash = EXCLUDED.doc_hash",
                rows,
            )
            .await
        })
    }
}

#[derive(Debug)]
pub struct CreditNoteProjection;
pub static CREDIT_NOTES: CreditNoteProjection = CreditNoteProjection;

impl Projection for CreditNoteProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[CreditNote::KIND]
    }

    fn select(&self) -> &'static str {
        "SELECT 'credit_note', id, doc_hash, doc FROM credit_notes"
    }

    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let rows = rows
                .iter()
                .filter_map(|w| {
                    let c = w.record.get::<CreditNote>()?;
                    Some(json!({
                        "id": c.id, "invoice_id": c.invoice_id, "patient_id": c.patient_id,
                        "number": c.number, "issued_on": c.issued_on, "total": c.totals.total,
                        "doc": w.doc, "doc_hash": w.hash,
                    }))
                })
                .collect();
            write_rows(
                tx,
                tenant,
                "INSERT INTO credit_notes (tenant_id, id, invoice_id, patient_id, number, issued_on, total, doc,
                     doc_hash)
                 SELECT $1, x.id, x.invoice_id, x.patient_id, x.number, x.issued_on, x.total, x.doc, x.doc_hash
                 FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, invoice_id uuid, patient_id uuid, number text,
                     issued_on date, total numeric, doc jsonb, doc_hash text)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET doc = EXCLUDED.doc, doc_hash = EXCLUDED.doc_hash",
                rows,
            )
            .await
        })
    }
}
