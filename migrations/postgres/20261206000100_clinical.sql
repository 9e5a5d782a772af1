-- Clinical records: encounters, with typed columns for the clinician's day
-- and the chart next to the document the feed carries.
--
-- A signed note never changes: the trigger below refuses any update of a
-- signed encounter other than appending addenda, whatever the domain code
-- decided (a bug there fails the push's transaction rather than altering
-- a signed note).

CREATE TABLE encounters (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    patient_id     uuid NOT NULL,
    clinician_id   uuid NOT NULL,
    appointment_id uuid,
    status         text NOT NULL CHECK (status IN ('draft', 'signed')),
    started_at     timestamptz NOT NULL,
    signed_at      timestamptz,
    content_sha256 text,
    doc            jsonb NOT NULL,
    doc_hash       text NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK ((status = 'signed') = (signed_at IS NOT NULL AND content_sha256 IS NOT NULL))
);
CREATE INDEX encounters_patient_start ON encounters (tenant_id, patient_id, started_at);
CREATE INDEX encounters_clinician_start ON encounters (tenant_id, clinician_id, started_at);

CREATE FUNCTION encounters_signed_never_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'signed' AND (
        NEW.status <> 'signed'
        OR NEW.content_sha256 IS DISTINCT FROM OLD.content_sha256
        OR (NEW.doc - 'addenda' - 'updated_at') IS DISTINCT FROM (OLD.doc - 'addenda' - 'updated_at')
        OR jsonb_array_length(coalesce(NEW.doc->'addenda', '[]')) < jsonb_array_length(coalesce(OLD.doc->'addenda', '[]'))
        OR NOT (coalesce(NEW.doc->'addenda', '[]') @> coalesce(OLD.doc->'addenda', '[]'))
    ) THEN
        RAISE EXCEPTION 'encounter % is signed and never changes', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER encounters_signed_frozen BEFORE UPDATE ON encounters
    FOR EACH ROW EXECUTE FUNCTION encounters_signed_never_change();

ALTER TABLE encounters ENABLE ROW LEVEL SECURITY;
ALTER TABLE encounters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON encounters
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON encounters TO clinic_app;
