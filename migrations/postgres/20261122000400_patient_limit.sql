-- The plan's patient limit, enforced by the database for every path that
-- inserts patients (sync, imports, anything later). A statement-level
-- trigger adds each statement's new rows to a per-tenant counter, so a bulk
-- load costs one counter update per statement, not a count per row; the
-- counter row is locked, so concurrent inserts cannot both slip under it.
-- Archived patients still count: their records are kept.

ALTER TABLE tenants ADD COLUMN patient_count bigint NOT NULL DEFAULT 0;

CREATE FUNCTION enforce_patient_limit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT tenant_id, count(*) AS added FROM inserted GROUP BY tenant_id LOOP
        UPDATE tenants SET patient_count = patient_count + r.added
         WHERE id = r.tenant_id AND patient_count + r.added <= max_patients;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the plan''s patient limit is reached'
                USING ERRCODE = 'P0001', HINT = 'clinic:plan_limit';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER patients_plan_limit
    AFTER INSERT ON patients
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION enforce_patient_limit();
