-- Billing: invoices, payments (and refunds) and credit notes, each with
-- the typed columns its lists and balances are queried by, the whole
-- record in `doc`. Amounts are kept as integers of the currency's minor
-- unit (cents) so sums are exact in SQL. Price-list items and the clinic's
-- settings are documents in `records`.

CREATE TABLE invoices (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    patient_id     TEXT NOT NULL,
    appointment_id TEXT,
    number         TEXT,
    status         TEXT NOT NULL,     -- draft | discarded | issued | partially_paid | paid | void
    currency       TEXT NOT NULL,
    issued_on      TEXT,
    due_on         TEXT,
    total_minor    INTEGER NOT NULL,
    balance_minor  INTEGER NOT NULL,  -- negative: the patient's credit
    open_conflicts INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    doc            TEXT NOT NULL,     -- JSON clinic_core::billing::Invoice
    updated_at     TEXT NOT NULL
);
CREATE INDEX invoices_patient ON invoices (patient_id, created_at);
CREATE INDEX invoices_appointment ON invoices (appointment_id) WHERE appointment_id IS NOT NULL;
CREATE UNIQUE INDEX invoices_number ON invoices (number) WHERE number IS NOT NULL;
CREATE INDEX invoices_status ON invoices (status, created_at);
-- The clinic's outstanding balances and credits read this index alone.
CREATE INDEX invoices_unsettled ON invoices (currency, patient_id, balance_minor) WHERE balance_minor <> 0;

CREATE TABLE payments (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    patient_id     TEXT NOT NULL,
    invoice_id     TEXT NOT NULL,
    kind           TEXT NOT NULL,     -- payment | refund
    method         TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL,
    received_on    TEXT NOT NULL,
    receipt_number TEXT,
    doc            TEXT NOT NULL      -- JSON clinic_core::billing::Payment
);
CREATE INDEX payments_invoice ON payments (invoice_id);
CREATE INDEX payments_patient ON payments (patient_id, received_on);
CREATE INDEX payments_day ON payments (received_on);
CREATE UNIQUE INDEX payments_receipt ON payments (receipt_number) WHERE receipt_number IS NOT NULL;

CREATE TABLE credit_notes (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    invoice_id  TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    number      TEXT NOT NULL UNIQUE,
    issued_on   TEXT NOT NULL,
    total_minor INTEGER NOT NULL,
    doc         TEXT NOT NULL         -- JSON clinic_core::billing::CreditNote
);
CREATE INDEX credit_notes_invoice ON credit_notes (invoice_id);

-- Nothing issued or received is deleted (a change the server refused is
-- discarded through sync_discard, like every kind).
CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
WHEN NOT EXISTS (SELECT 1 FROM sync_discard WHERE id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'invoices are voided or discarded, never deleted'); END;
CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
WHEN NOT EXISTS (SELECT 1 FROM sync_discard WHERE id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'payments are refunded, never deleted'); END;
CREATE TRIGGER credit_notes_no_delete BEFORE DELETE ON credit_notes
WHEN NOT EXISTS (SELECT 1 FROM sync_discard WHERE id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'credit notes are never deleted'); END;
