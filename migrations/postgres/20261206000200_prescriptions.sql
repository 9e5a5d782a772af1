-- Prescriptions, with the columns a patient's current medicines and an
-- encounter's prescriptions are queried by. Issued whole; afterwards only
-- their status changes (the trigger refuses any other change).

CREATE TABLE prescriptions (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    patient_id   uuid NOT NULL,
    encounter_id uuid NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'completed', 'cancelled')),
    issued_at    timestamptz NOT NULL,
    expires_on   date NOT NULL,
    doc          jsonb NOT NULL,
    doc_hash     text NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX prescriptions_patient ON prescriptions (tenant_id, patient_id, issued_at);
CREATE INDEX prescriptions_encounter ON prescriptions (tenant_id, encounter_id);

CREATE FUNCTION prescriptions_issued_never_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.doc - 'status' - 'status_reason' - 'updated_at') IS DISTINCT FROM (OLD.doc - 'status' - 'status_reason' - 'updated_at')
       OR (OLD.status <> 'active' AND NEW.status <> OLD.status) THEN
        RAISE EXCEPTION 'prescription % was issued and only its status may change', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER prescriptions_issued_frozen BEFORE UPDATE ON prescriptions
    FOR EACH ROW EXECUTE FUNCTION prescriptions_issued_never_change();

ALTER TABLE prescriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE prescriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON prescriptions
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON prescriptions TO clinic_app;
