-- Server master schema: tenancy, identity, devices, patients, audit, sync state.
-- Rules (checked by sync-server's catalog test):
--  * every tenant table has tenant_id first in its primary key;
--  * every foreign key and unique constraint of a tenant table includes tenant_id
--    (a plain foreign key would let tenant A reference tenant B's rows);
--  * row-level security is enabled AND forced on every tenant table, with a
--    policy on app.tenant_id, which the server sets per transaction.
-- Runs as clinic_owner (SET LOCAL ROLE), which owns everything.

CREATE TABLE tenants (
    id              uuid PRIMARY KEY,
    slug            text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    region          text,
    settings        jsonb NOT NULL DEFAULT '{}',
    plan            text NOT NULL,
    max_users       integer NOT NULL CHECK (max_users > 0),
    max_patients    integer NOT NULL CHECK (max_patients > 0),
    max_storage_mb  integer NOT NULL CHECK (max_storage_mb > 0),
    features        jsonb NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);

CREATE TABLE sites (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    timezone    text NOT NULL,
    address     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE rooms (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    site_id     uuid NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL DEFAULT 'consulting',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
    UNIQUE (tenant_id, site_id, name)
);

CREATE TABLE roles (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    key         text NOT NULL,
    name        text NOT NULL,
    builtin     boolean NOT NULL DEFAULT false,
    permissions jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key)
);

CREATE TABLE users (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    id              uuid NOT NULL,
    email           text NOT NULL CHECK (email = lower(email)),
    name            text NOT NULL,
    phone           text,
    password_hash   text NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    mfa_secret      text,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_login_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE user_roles (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    role_id     uuid NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);

CREATE TABLE clinician_profiles (
    tenant_id           uuid NOT NULL,
    user_id             uuid NOT NULL,
    specialization      text,
    qualifications      text,
    registration_number text,
    experience_years    integer,
    bio                 text,
    consultation_fee    numeric(12, 2),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    UNIQUE (tenant_id, registration_number)
);

CREATE TABLE devices (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    site_id         uuid NOT NULL,
    name            text NOT NULL,
    credential_hash text NOT NULL,
    enrolled_by     uuid NOT NULL,
    enrolled_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    last_seen_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
    FOREIGN KEY (tenant_id, enrolled_by) REFERENCES users (tenant_id, id)
);

CREATE TABLE patients (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL,
    patient_number      text NOT NULL,
    number_seq          bigint NOT NULL,
    first_name          text NOT NULL,
    middle_name         text,
    last_name           text NOT NULL,
    preferred_name      text,
    date_of_birth       date NOT NULL,
    sex_at_birth        text,
    gender              text,
    phone               text,
    alt_phone           text,
    email               text,
    address_line1       text,
    address_line2       text,
    city                text,
    state               text,
    postcode            text,
    country             text,
    national_id_kind    text,
    national_id         text,
    preferred_channel   text,
    preferred_language  text,
    reminders_opt_in    boolean,
    blood_group         text,
    smoking_status      text,
    alcohol_use         text,
    family_history      text,
    risk_level          text,
    alert_level         text,
    flags               jsonb NOT NULL DEFAULT '[]',
    merged_into         uuid,
    archive_reason      text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    deleted_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, patient_number),
    UNIQUE (tenant_id, number_seq),
    FOREIGN KEY (tenant_id, merged_into) REFERENCES patients (tenant_id, id)
);

CREATE TABLE patient_allergies (
    tenant_id uuid NOT NULL, id uuid NOT NULL, patient_id uuid NOT NULL,
    substance text NOT NULL, reaction text, severity text NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, deleted_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE TABLE patient_conditions (
    tenant_id uuid NOT NULL, id uuid NOT NULL, patient_id uuid NOT NULL,
    name text NOT NULL, icd10 text, active boolean NOT NULL, onset date,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, deleted_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE TABLE patient_medications (
    tenant_id uuid NOT NULL, id uuid NOT NULL, patient_id uuid NOT NULL,
    name text NOT NULL, dose text, frequency text, started_on date,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, deleted_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE TABLE patient_insurances (
    tenant_id uuid NOT NULL, id uuid NOT NULL, patient_id uuid NOT NULL,
    provider text NOT NULL, policy_number text, group_number text, member_number text, plan text,
    valid_from date, valid_to date, copay numeric(12, 2), is_primary boolean NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, deleted_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE TABLE patient_emergency_contacts (
    tenant_id uuid NOT NULL, id uuid NOT NULL, patient_id uuid NOT NULL,
    name text NOT NULL, relationship text, phone text, email text,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, deleted_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);
CREATE TABLE patient_consents (
    tenant_id uuid NOT NULL, id uuid NOT NULL, patient_id uuid NOT NULL,
    kind text NOT NULL, purpose text, given_on date NOT NULL, withdrawn_on date,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, deleted_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id)
);

-- Audit trails as received from each device's hash chain.
CREATE TABLE audit_events (
    tenant_id   uuid NOT NULL,
    device_id   uuid NOT NULL,
    seq         bigint NOT NULL,
    id          uuid NOT NULL,
    at          timestamptz NOT NULL,
    user_id     uuid,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   uuid,
    patient_id  uuid,
    details     jsonb NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id, seq),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);

-- Sync: the per-tenant change feed, ordered by a sequence taken under the
-- tenant's head row lock at commit, and each device's position.
CREATE TABLE feed_heads (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    last_seq    bigint NOT NULL DEFAULT 0,
    epoch       uuid NOT NULL,
    PRIMARY KEY (tenant_id)
);
CREATE TABLE change_feed (
    tenant_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    entity_type  text NOT NULL,
    entity_id    uuid NOT NULL,
    data         jsonb NOT NULL,
    device_id    uuid,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, seq),
    FOREIGN KEY (tenant_id) REFERENCES feed_heads (tenant_id)
);
CREATE TABLE device_state (
    tenant_id        uuid NOT NULL,
    device_id        uuid NOT NULL,
    last_applied_seq bigint NOT NULL DEFAULT 0,
    last_pulled_seq  bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE TABLE number_blocks (
    tenant_id   uuid NOT NULL,
    series      text NOT NULL,
    block_start bigint NOT NULL,
    block_end   bigint NOT NULL CHECK (block_end > block_start),
    device_id   uuid,
    leased_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, series, block_start),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);

-- Row-level security on every table with tenant_id: enabled, forced (the
-- owner too), one policy on the transaction's tenant. A missing setting is
-- NULL, which matches no row.
DO $$
DECLARE t text;
BEGIN
    FOR t IN
        SELECT c.table_name FROM information_schema.columns c
        JOIN information_schema.tables tb ON tb.table_name = c.table_name AND tb.table_schema = c.table_schema
        WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND tb.table_type = 'BASE TABLE'
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid) '
            'WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    END LOOP;
END $$;

-- tenants is the global directory: the runtime role sees only the current
-- tenant's row; sign-in resolves a slug through a function owned by the
-- owner (RLS is enabled here but not forced, so the owner can look it up).
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

CREATE FUNCTION tenant_id_for_slug(p_slug text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT id FROM tenants WHERE slug = p_slug AND deleted_at IS NULL $$;

-- Medical records are never hard-deleted: no DELETE for the runtime role.
GRANT USAGE ON SCHEMA public TO clinic_app;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO clinic_app;
REVOKE ALL ON schema_migrations FROM clinic_app;
GRANT EXECUTE ON FUNCTION tenant_id_for_slug(text) TO clinic_app;
