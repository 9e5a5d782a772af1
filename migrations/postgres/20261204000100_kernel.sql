-- The sync kernel knows no domain (protocol 4).

-- Every number any series handed out, as ranges (a device issues its
-- numbers one after another, so a push of 1,000 registrations is one row):
-- a pushed number must lie in a block leased to the device that sent it
-- and must never have been issued before, whatever the series.
CREATE TABLE issued_numbers (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    series     text NOT NULL,
    numbers    int8range NOT NULL,
    device_id  uuid,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, series, numbers),
    CONSTRAINT issued_numbers_once EXCLUDE USING gist
        (tenant_id WITH =, series WITH =, numbers WITH &&)
);
-- The patient numbers issued so far, one range per run of consecutive ones.
INSERT INTO issued_numbers (tenant_id, series, numbers)
SELECT tenant_id, 'patient', int8range(min(number_seq), max(number_seq) + 1)
FROM (SELECT tenant_id, number_seq,
             number_seq - row_number() OVER (PARTITION BY tenant_id ORDER BY number_seq) AS run
      FROM patients) p
GROUP BY tenant_id, run;
ALTER TABLE issued_numbers ENABLE ROW LEVEL SECURITY;
ALTER TABLE issued_numbers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON issued_numbers
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT ON issued_numbers TO clinic_app;

-- A restored workstation's blocks are retired: still valid for the changes
-- it queued before, never a source of new numbers.
ALTER TABLE number_blocks ADD COLUMN retired_at timestamptz;
CREATE INDEX number_blocks_device ON number_blocks (tenant_id, device_id, series);

-- The feed's chain now covers each change's content hash (erasure-ready).
-- Existing feeds are chained again by the server when it starts
-- (sync_server::sync::rechain_feeds); new tenants start at version 2.
ALTER TABLE feed_heads ADD COLUMN chain_version integer NOT NULL DEFAULT 1;
ALTER TABLE feed_heads ALTER COLUMN chain_version SET DEFAULT 2;
UPDATE feed_heads SET chain_version = 2 WHERE last_seq = 0;
