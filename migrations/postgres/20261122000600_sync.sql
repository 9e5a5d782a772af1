-- Sync: each patient's current document (what the feed last carried), the
-- recorded outcome of every mutation, and each device's verified audit head.

-- List items live inside the patient's document (added and removed by id
-- through mutations), so the per-item tables are not used.
DROP TABLE patient_allergies, patient_conditions, patient_medications,
    patient_insurances, patient_emergency_contacts, patient_consents;

ALTER TABLE patients
    ADD COLUMN doc jsonb,
    ADD COLUMN doc_hash text;

-- What became of each mutation: a retried push gets the same answer.
CREATE TABLE mutation_outcomes (
    tenant_id   uuid NOT NULL,
    device_id   uuid NOT NULL,
    device_seq  bigint NOT NULL,
    mutation_id uuid NOT NULL,
    kind        text NOT NULL,
    user_id     uuid,
    status      text NOT NULL CHECK (status IN ('accepted', 'conflict', 'rejected')),
    code        text,
    message     text,
    made_at     timestamptz NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id, device_seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);

ALTER TABLE device_state
    ADD COLUMN audit_head_seq  bigint NOT NULL DEFAULT 0,
    ADD COLUMN audit_head_hash text NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
    ADD COLUMN audit_break     jsonb;

-- The feed's hash chain (clinic_core::sync::chain_hash): a workstation
-- proves which history it has applied up to its cursor.
ALTER TABLE change_feed ADD COLUMN chain text NOT NULL DEFAULT '';

-- A record's history in feed order.
CREATE INDEX change_feed_entity ON change_feed (tenant_id, entity_type, entity_id, seq);

ALTER TABLE mutation_outcomes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mutation_outcomes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mutation_outcomes
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT ON mutation_outcomes TO clinic_app;
