-- Signed authorship: each queued change and audit event carries the key
-- of its author that signed it and the signature (none on what was made
-- before signatures, signed at its author's next sign-in here, and on
-- events nobody signed in made).
ALTER TABLE outbox ADD COLUMN author_key TEXT;
ALTER TABLE outbox ADD COLUMN signature TEXT;
ALTER TABLE audit_events ADD COLUMN author_key TEXT;
ALTER TABLE audit_events ADD COLUMN signature TEXT;
-- The pending changes of one author that still wait for their signature.
CREATE INDEX outbox_unsigned ON outbox (user_id, device_seq)
    WHERE status = 'pending' AND signature IS NULL AND user_id IS NOT NULL;
-- Audit events stay append-only, except that an event without a signature
-- may receive its author's (once, at their next sign-in here); nothing
-- else of it changes, and a signature is never replaced.
DROP TRIGGER audit_events_no_update;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (
    old.signature IS NULL AND old.author_key IS NULL
    AND new.signature IS NOT NULL AND new.author_key IS NOT NULL
    AND new.device_id IS old.device_id AND new.seq IS old.seq AND new.id IS old.id
    AND new.tenant_id IS old.tenant_id AND new.at IS old.at AND new.user_id IS old.user_id
    AND new.action IS old.action AND new.entity_type IS old.entity_type
    AND new.entity_id IS old.entity_id AND new.patient_id IS old.patient_id
    AND new.details IS old.details AND new.prev_hash IS old.prev_hash AND new.hash IS old.hash
)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
