-- Scheduling: appointments, and the shared reference records (staff,
-- sites, rooms, appointment types, working time, waitlist) as documents.
--
-- Overlapping live appointments are prevented by the database itself: the
-- exclusion constraints below hold for every appointment that "holds its
-- time exclusively" (live, not an open conflict, not a double booking a
-- person accepted). The domain code marks an overlapping booking from
-- another workstation as a conflict instead of refusing it, so a bug there
-- fails the push's transaction rather than writing a double booking.

-- btree_gist (for `clinician_id WITH =` in a GiST index) is created by the
-- server's migration step as the cluster administrator, before migrations.

CREATE TABLE appointments (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    site_id      uuid NOT NULL,
    patient_id   uuid NOT NULL,
    clinician_id uuid NOT NULL,
    room_id      uuid,
    start_at     timestamptz NOT NULL,
    end_at       timestamptz NOT NULL,
    -- start and end with the buffers (the clinician's and room's time).
    occupied     tstzrange NOT NULL,
    status       text NOT NULL CHECK (status IN ('scheduled', 'confirmed', 'arrived', 'in_progress',
                     'completed', 'cancelled', 'no_show', 'rescheduled')),
    in_conflict  boolean NOT NULL,
    exclusive    boolean NOT NULL,
    doc          jsonb NOT NULL,
    doc_hash     text NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (end_at > start_at),
    CHECK (exclusive = (status NOT IN ('cancelled', 'no_show', 'rescheduled') AND NOT in_conflict
                        AND NOT coalesce((doc->>'double_booking_accepted')::boolean, false))),
    CONSTRAINT appointments_clinician_overlap EXCLUDE USING gist
        (tenant_id WITH =, clinician_id WITH =, occupied WITH &&) WHERE (exclusive)
        DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT appointments_room_overlap EXCLUDE USING gist
        (tenant_id WITH =, room_id WITH =, occupied WITH &&) WHERE (exclusive AND room_id IS NOT NULL)
        DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT appointments_patient_overlap EXCLUDE USING gist
        (tenant_id WITH =, patient_id WITH =, tstzrange(start_at, end_at) WITH &&) WHERE (exclusive)
        DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX appointments_site_start ON appointments (tenant_id, site_id, start_at);
CREATE INDEX appointments_clinician_time ON appointments USING gist (tenant_id, clinician_id, occupied);
CREATE INDEX appointments_patient_start ON appointments (tenant_id, patient_id, start_at);

CREATE TABLE sync_records (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    entity_type text NOT NULL,
    doc         jsonb NOT NULL,
    doc_hash    text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX sync_records_kind ON sync_records (tenant_id, entity_type);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['appointments', 'sync_records'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE ON appointments, sync_records TO clinic_app;
