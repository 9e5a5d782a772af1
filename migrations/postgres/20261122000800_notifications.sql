-- Notifications: what a patient is told about an appointment (confirmation,
-- reminder, cancellation, new time), queued in the push's transaction and
-- delivered by the server's worker (sync-server/src/notify.rs).
--
-- No personal data is copied here: the recipient (email address or phone)
-- and the words are taken from the patient and appointment when the
-- message is sent, so a corrected address or a later move is honoured.
--
-- `dedupe_key` is unique per tenant (e.g. `reminder:<appointment>:<start>`):
-- queueing is INSERT … ON CONFLICT, so a retried push or a second worker
-- pass never creates a second message; a moved appointment gets a new key.
-- `status`: queued (waiting, or retrying after a failed attempt: see
-- `attempts`, `last_error`, `next_attempt_at`), sent, failed (for good), or
-- skipped (no longer wanted: cancelled, moved, too late, no address).

CREATE TABLE notifications (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    appointment_id    uuid NOT NULL,
    patient_id        uuid NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('confirmation', 'reminder', 'cancellation', 'rescheduled')),
    channel           text NOT NULL CHECK (channel IN ('email', 'sms', 'in_app')),
    -- The appointment's start this message is about.
    appointment_start timestamptz NOT NULL,
    -- When it should go out, and when the worker tries next (later after a failure).
    due_at            timestamptz NOT NULL,
    next_attempt_at   timestamptz NOT NULL,
    status            text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error        text,
    sent_at           timestamptz,
    dedupe_key        text NOT NULL,
    -- When it was (last) queued: orders what the patient has been told.
    queued_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, dedupe_key),
    FOREIGN KEY (tenant_id, appointment_id) REFERENCES appointments (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id),
    CHECK (status <> 'sent' OR sent_at IS NOT NULL)
);
-- The worker: a tenant's due messages.
CREATE INDEX notifications_due ON notifications (tenant_id, status, next_attempt_at);
CREATE INDEX notifications_appointment ON notifications (tenant_id, appointment_id);

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notifications
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON notifications TO clinic_app;

-- The worker serves every tenant but sees one tenant per transaction. This
-- lists the tenants that have a message due at `p_now` (ids only, nothing
-- else crosses tenants): it runs as the owner, which sees every tenant row
-- (RLS on `tenants` is not forced) and, because RLS on `notifications` is
-- forced, looks into each tenant's queue under that tenant's setting only.
-- The setting is transaction-local and cleared before returning.
CREATE FUNCTION tenants_with_due_notifications(p_now timestamptz) RETURNS SETOF uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public
    AS $$
DECLARE
    t uuid;
    previous text := current_setting('app.tenant_id', true);
BEGIN
    FOR t IN SELECT id FROM tenants WHERE deleted_at IS NULL ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        IF EXISTS (SELECT 1 FROM notifications
                   WHERE tenant_id = t AND status = 'queued' AND next_attempt_at <= p_now) THEN
            RETURN NEXT t;
        END IF;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
    RETURN;
END $$;
REVOKE ALL ON FUNCTION tenants_with_due_notifications(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenants_with_due_notifications(timestamptz) TO clinic_app;
