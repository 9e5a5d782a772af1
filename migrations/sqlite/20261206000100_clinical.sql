-- Clinical records: encounters (typed columns for the clinician's day and
-- the chart, the whole record as the feed carries it in `doc`), and the
-- drafts autosaved while a note is typed (this workstation's own: they
-- enter the outbox as one edit per field when the person moves on).

CREATE TABLE encounters (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    patient_id     TEXT NOT NULL,
    clinician_id   TEXT NOT NULL,
    appointment_id TEXT,
    status         TEXT NOT NULL,          -- draft | signed
    started_at     TEXT NOT NULL,          -- UTC, fixed-width RFC 3339
    signed_at      TEXT,
    doc            TEXT NOT NULL,          -- JSON clinic_core::clinical::Encounter
    updated_at     TEXT NOT NULL
);
CREATE INDEX encounters_patient_start ON encounters (patient_id, started_at);
CREATE INDEX encounters_clinician_start ON encounters (clinician_id, started_at);
CREATE INDEX encounters_appointment ON encounters (appointment_id) WHERE appointment_id IS NOT NULL;

-- A clinical record is never deleted, except an encounter whose creation
-- the server refused outright (listed in sync_discard while it is removed).
CREATE TRIGGER encounters_no_delete BEFORE DELETE ON encounters
WHEN NOT EXISTS (SELECT 1 FROM sync_discard WHERE id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'encounters are never deleted'); END;

-- What a person typed and this desk has not yet made a change of: one row
-- per encounter, field and author. `base` is the field's revision the text
-- was typed over. field = 'addendum' is a draft addendum of a signed note.
CREATE TABLE encounter_drafts (
    encounter_id TEXT NOT NULL,
    field        TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    text         TEXT NOT NULL,
    base         TEXT,
    saved_at     TEXT NOT NULL,
    PRIMARY KEY (encounter_id, field, user_id)
);
