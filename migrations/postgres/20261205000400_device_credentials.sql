-- Device credentials expire and are renewed by sync: the current one works
-- until credential_expires_at; after a renewal the one before keeps working
-- until previous_expires_at (a renewal whose answer was lost is asked again
-- with it). Credentials issued before this upgrade get 90 days from now.
ALTER TABLE devices
    ADD COLUMN credential_expires_at timestamptz,
    ADD COLUMN previous_credential_hash text,
    ADD COLUMN previous_expires_at timestamptz;
UPDATE devices SET credential_expires_at = now() + interval '90 days' WHERE credential_expires_at IS NULL;
ALTER TABLE devices ALTER COLUMN credential_expires_at SET NOT NULL;
