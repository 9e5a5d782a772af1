-- Billing in the master: invoices, payments (and refunds) and credit
-- notes, with typed columns next to the document the feed carries.
--
-- The database holds the guarantees whatever the domain code decides:
-- numbers are unique per tenant; an issued invoice's content never changes
-- (only its money — payments, refunds, credit notes, status — and a void
-- reason); payments and credit notes are never changed or deleted.

CREATE TABLE invoices (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    patient_id     uuid NOT NULL,
    appointment_id uuid,
    number         text,
    status         text NOT NULL CHECK (status IN ('draft', 'discarded', 'issued', 'partially_paid', 'paid', 'void')),
    currency       text NOT NULL,
    issued_on      date,
    total          numeric NOT NULL,
    balance        numeric NOT NULL,
    doc            jsonb NOT NULL,
    doc_hash       text NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK ((status IN ('draft', 'discarded')) = (number IS NULL))
);
CREATE UNIQUE INDEX invoices_number ON invoices (tenant_id, number) WHERE number IS NOT NULL;
CREATE UNIQUE INDEX invoices_appointment ON invoices (tenant_id, appointment_id) WHERE appointment_id IS NOT NULL;
CREATE INDEX invoices_patient ON invoices (tenant_id, patient_id);

CREATE FUNCTION invoices_issued_never_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    money text[] := ARRAY['status', 'entries', 'paid', 'refunded', 'credited', 'conflicts', 'void_reason', 'updated_at'];
BEGIN
    IF OLD.number IS NOT NULL AND (
        NEW.number IS DISTINCT FROM OLD.number
        OR (NEW.doc - money) IS DISTINCT FROM (OLD.doc - money)
        OR NOT (coalesce(NEW.doc->'entries', '[]') @> coalesce(OLD.doc->'entries', '[]'))
    ) THEN
        RAISE EXCEPTION 'invoice % was issued and is never edited', OLD.number;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoices_issued_frozen BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_issued_never_change();

CREATE TABLE payments (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    patient_id     uuid NOT NULL,
    invoice_id     uuid NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('payment', 'refund')),
    method         text NOT NULL,
    amount         numeric NOT NULL CHECK (amount > 0),
    received_on    date NOT NULL,
    receipt_number text,
    doc            jsonb NOT NULL,
    doc_hash       text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX payments_receipt ON payments (tenant_id, receipt_number) WHERE receipt_number IS NOT NULL;
CREATE INDEX payments_invoice ON payments (tenant_id, invoice_id);

CREATE TABLE credit_notes (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    invoice_id  uuid NOT NULL,
    patient_id  uuid NOT NULL,
    number      text NOT NULL,
    issued_on   date NOT NULL,
    total       numeric NOT NULL,
    doc         jsonb NOT NULL,
    doc_hash    text NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number)
);
CREATE INDEX credit_notes_invoice ON credit_notes (tenant_id, invoice_id);

CREATE FUNCTION money_never_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.doc IS DISTINCT FROM OLD.doc THEN
        RAISE EXCEPTION '% % was recorded and never changes', TG_TABLE_NAME, OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payments_frozen BEFORE UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION money_never_changes();
CREATE TRIGGER credit_notes_frozen BEFORE UPDATE ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION money_never_changes();

ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoices
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON invoices TO clinic_app;

ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE payments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON payments
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON payments TO clinic_app;

ALTER TABLE credit_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE credit_notes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON credit_notes
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON credit_notes TO clinic_app;
