-- Prescriptions (typed columns for a patient's current medicines, the
-- whole record in `doc`), and the medication-table code of an allergy.

ALTER TABLE patient_allergies ADD COLUMN code TEXT;   -- JSON clinic_core::clinical::medications::AllergyCode

CREATE TABLE prescriptions (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    patient_id   TEXT NOT NULL,
    encounter_id TEXT NOT NULL,
    status       TEXT NOT NULL,          -- active | completed | cancelled
    issued_at    TEXT NOT NULL,
    expires_on   TEXT NOT NULL,
    doc          TEXT NOT NULL,          -- JSON clinic_core::clinical::Prescription
    updated_at   TEXT NOT NULL
);
CREATE INDEX prescriptions_patient ON prescriptions (patient_id, issued_at);
CREATE INDEX prescriptions_encounter ON prescriptions (encounter_id);

CREATE TRIGGER prescriptions_no_delete BEFORE DELETE ON prescriptions
WHEN NOT EXISTS (SELECT 1 FROM sync_discard WHERE id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'prescriptions are cancelled, never deleted'); END;
