-- Workstation foundation: tenancy, identity and access, patients, search, audit.
-- Every user-facing table carries tenant_id, created_at, updated_at and a
-- soft-delete column; ids are client-generated UUIDv7 stored as text.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    region      TEXT,
    settings    TEXT NOT NULL DEFAULT '{}',
    plan        TEXT NOT NULL DEFAULT 'standalone',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
);

CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    address     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT,
    UNIQUE (tenant_id, name)
);

CREATE TABLE rooms (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    site_id     TEXT NOT NULL REFERENCES sites(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'consulting',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT,
    UNIQUE (site_id, name)
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    builtin     INTEGER NOT NULL DEFAULT 0,
    permissions TEXT NOT NULL,           -- JSON PermissionMatrix
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT,
    UNIQUE (tenant_id, key)
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    email           TEXT NOT NULL,       -- stored lower-case
    name            TEXT NOT NULL,
    phone           TEXT,
    password_hash   TEXT NOT NULL,       -- Argon2id PHC string
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    last_login_at   TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT,
    UNIQUE (tenant_id, email)
);

CREATE TABLE user_roles (
    user_id     TEXT NOT NULL REFERENCES users(id),
    role_id     TEXT NOT NULL REFERENCES roles(id),
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    PRIMARY KEY (user_id, role_id)
) WITHOUT ROWID;

CREATE TABLE clinician_profiles (
    user_id             TEXT PRIMARY KEY REFERENCES users(id),
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    specialization      TEXT,
    qualifications      TEXT,
    registration_number TEXT,
    experience_years    INTEGER,
    bio                 TEXT,
    consultation_fee    TEXT,            -- exact decimal as text
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    deleted_at          TEXT,
    UNIQUE (tenant_id, registration_number)
);

-- Offline number blocks: [block_start, block_end) owned by this workstation.
CREATE TABLE number_blocks (
    series      TEXT NOT NULL,           -- 'patient' (later 'invoice', ...)
    block_start INTEGER NOT NULL,
    block_end   INTEGER NOT NULL,
    next_value  INTEGER NOT NULL,
    PRIMARY KEY (series, block_start),
    CHECK (block_start <= next_value AND next_value <= block_end)
) WITHOUT ROWID;

CREATE TABLE patients (
    pk                  INTEGER PRIMARY KEY,  -- stable rowid shared with patient_fts
    id                  TEXT NOT NULL UNIQUE,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    patient_number      TEXT NOT NULL,
    number_seq          INTEGER NOT NULL,
    first_name          TEXT NOT NULL,
    middle_name         TEXT,
    last_name           TEXT NOT NULL,
    preferred_name      TEXT,
    date_of_birth       TEXT NOT NULL,
    sex_at_birth        TEXT,
    gender              TEXT,
    phone               TEXT,
    phone_digits        TEXT,
    alt_phone           TEXT,
    email               TEXT,
    address_line1       TEXT,
    address_line2       TEXT,
    city                TEXT,
    state               TEXT,
    postcode            TEXT,
    country             TEXT,
    national_id_kind    TEXT,
    national_id         TEXT,
    preferred_channel   TEXT,
    preferred_language  TEXT,
    reminders_opt_in    INTEGER,
    blood_group         TEXT,
    smoking_status      TEXT,
    alcohol_use         TEXT,
    family_history      TEXT,
    risk_level          TEXT,
    alert_level         TEXT,
    flags               TEXT NOT NULL DEFAULT '[]',
    sort_name           TEXT NOT NULL,   -- folded "last first" for alphabetical lists
    merged_into         TEXT REFERENCES patients(id),
    archive_reason      TEXT,                 -- why it was archived (free text: kept here, not in the audit)
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    deleted_at          TEXT,
    UNIQUE (tenant_id, patient_number),
    UNIQUE (tenant_id, number_seq)
);
CREATE INDEX patients_dob ON patients (date_of_birth) WHERE deleted_at IS NULL;
CREATE INDEX patients_sort_name ON patients (sort_name) WHERE deleted_at IS NULL;
CREATE INDEX patients_national_id ON patients (national_id) WHERE national_id IS NOT NULL;
CREATE INDEX patients_phone_digits ON patients (phone_digits) WHERE phone_digits IS NOT NULL;
CREATE INDEX patients_email ON patients (email COLLATE NOCASE) WHERE email IS NOT NULL;

-- Patient parts: one row per item so concurrent additions on two
-- workstations both survive a merge.
CREATE TABLE patient_allergies (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL REFERENCES patients(id),
    substance TEXT NOT NULL, reaction TEXT, severity TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT
);
CREATE INDEX patient_allergies_patient ON patient_allergies (patient_id);

CREATE TABLE patient_conditions (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL REFERENCES patients(id),
    name TEXT NOT NULL, icd10 TEXT, active INTEGER NOT NULL, onset TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT
);
CREATE INDEX patient_conditions_patient ON patient_conditions (patient_id);

CREATE TABLE patient_medications (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL REFERENCES patients(id),
    name TEXT NOT NULL, dose TEXT, frequency TEXT, started_on TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT
);
CREATE INDEX patient_medications_patient ON patient_medications (patient_id);

CREATE TABLE patient_insurances (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL REFERENCES patients(id),
    provider TEXT NOT NULL, policy_number TEXT, group_number TEXT, member_number TEXT, plan TEXT,
    valid_from TEXT, valid_to TEXT, copay TEXT, is_primary INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT
);
CREATE INDEX patient_insurances_patient ON patient_insurances (patient_id);

CREATE TABLE patient_emergency_contacts (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL REFERENCES patients(id),
    name TEXT NOT NULL, relationship TEXT, phone TEXT, email TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT
);
CREATE INDEX patient_emergency_contacts_patient ON patient_emergency_contacts (patient_id);

CREATE TABLE patient_consents (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL REFERENCES patients(id),
    kind TEXT NOT NULL, purpose TEXT, given_on TEXT NOT NULL, withdrawn_on TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT
);
CREATE INDEX patient_consents_patient ON patient_consents (patient_id);

-- Search: a contentless FTS5 index (rowid = patients.pk) of folded name
-- words, digit tokens (phone, number, identifier) and the date of birth;
-- prefix indexes make search-as-you-type a range lookup.
CREATE VIRTUAL TABLE patient_fts USING fts5(
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

-- Typo tolerance: the vocabulary of name words and the symmetric-delete keys
-- of their prefixes (see clinic_core::search::vocabulary_keys).
CREATE TABLE search_vocabulary (
    word TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE search_typo_keys (
    key  TEXT NOT NULL,
    word TEXT NOT NULL,
    PRIMARY KEY (key, word)
) WITHOUT ROWID;

-- Audit: append-only, hash-chained per device.
CREATE TABLE audit_events (
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL,
    at          TEXT NOT NULL,
    user_id     TEXT,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT,
    patient_id  TEXT,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX audit_events_patient ON audit_events (patient_id) WHERE patient_id IS NOT NULL;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

-- Medical records are never hard-deleted.
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
BEGIN SELECT RAISE(ABORT, 'patients are archived, never deleted'); END;
