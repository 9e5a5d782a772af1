-- Scheduling: appointments (typed columns for the calendar's range queries,
-- the whole record as the feed carries it in `doc`) and the shared
-- reference records (appointment types, working time, waitlist; staff,
-- sites and rooms are also written to their own tables).

CREATE TABLE appointments (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    site_id      TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    clinician_id TEXT NOT NULL,
    room_id      TEXT,
    start_at     TEXT NOT NULL,          -- UTC, fixed-width RFC 3339 (sorts as text)
    end_at       TEXT NOT NULL,
    status       TEXT NOT NULL,
    in_conflict  INTEGER NOT NULL DEFAULT 0,
    series_id    TEXT,
    doc          TEXT NOT NULL,          -- JSON clinic_core::schedule::Appointment
    updated_at   TEXT NOT NULL
);
CREATE INDEX appointments_site_start ON appointments (site_id, start_at);
CREATE INDEX appointments_clinician_start ON appointments (clinician_id, start_at);
CREATE INDEX appointments_patient_start ON appointments (patient_id, start_at);
CREATE INDEX appointments_room_start ON appointments (room_id, start_at) WHERE room_id IS NOT NULL;
CREATE INDEX appointments_series ON appointments (series_id) WHERE series_id IS NOT NULL;
CREATE INDEX appointments_conflicts ON appointments (site_id) WHERE in_conflict = 1;

-- Appointments are cancelled, never deleted, except a booking the server
-- refused outright (listed in sync_discard while it is removed).
CREATE TRIGGER appointments_no_delete BEFORE DELETE ON appointments
WHEN NOT EXISTS (SELECT 1 FROM sync_discard WHERE id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'appointments are cancelled, never deleted'); END;

CREATE TABLE sync_refs (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    doc        TEXT NOT NULL            -- JSON clinic_core::directory::RefDoc
);
CREATE INDEX sync_refs_kind ON sync_refs (kind);
