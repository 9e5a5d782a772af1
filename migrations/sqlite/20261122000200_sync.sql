-- Sync: the outbox of named mutations, the server's view of records with
-- pending local changes (for rebasing), and the guarded removal of records
-- the server refused.

-- Every local change as a named mutation, numbered per device without gaps.
-- Rows are kept after the server answers: a refused one stays visible until
-- a person resolves it, and all of them can be sent again when the server
-- was restored from a backup that predates them.
CREATE TABLE outbox (
    device_seq  INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    user_id     TEXT,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    mutation    TEXT NOT NULL,          -- JSON clinic_core::sync::Mutation
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'accepted', 'conflict', 'rejected')),
    code        TEXT,
    message     TEXT,
    answered_at TEXT,
    resolved_at TEXT,
    resolved_by TEXT
);
CREATE INDEX outbox_open ON outbox (status) WHERE status <> 'accepted';

-- Which records each mutation touches (to rebase exactly those).
CREATE TABLE outbox_touches (
    entity_id  TEXT NOT NULL,
    device_seq INTEGER NOT NULL REFERENCES outbox (device_seq),
    PRIMARY KEY (entity_id, device_seq)
) WITHOUT ROWID;

-- The server's version of each record that has pending local mutations
-- (doc NULL: the server does not have the record yet). The local row is
-- always shadow + pending mutations, re-applied in order.
CREATE TABLE sync_shadows (
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    doc         TEXT,
    PRIMARY KEY (entity_type, entity_id)
) WITHOUT ROWID;

-- A patient row may only be deleted while its id is listed here, which
-- only happens when the server refused the record's registration.
CREATE TABLE sync_discard (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;

DROP TRIGGER patients_no_delete;
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
WHEN NOT EXISTS (SELECT 1 FROM sync_discard WHERE id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'patients are archived, never deleted'); END;
