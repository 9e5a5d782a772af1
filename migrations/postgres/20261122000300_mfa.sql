-- Multi-factor sign-in (TOTP): a secret waiting for its first code, and the
-- last time step used so that no code is accepted twice.
ALTER TABLE users ADD COLUMN mfa_pending_secret text;
ALTER TABLE users ADD COLUMN mfa_last_step bigint;
