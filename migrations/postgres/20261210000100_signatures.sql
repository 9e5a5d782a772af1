-- Signed authorship: the first signing key of an account the server made
-- (a tenant's first administrator, a user added on the server), sealed by
-- its password, for the staff record every desk receives; and the
-- signature of each audit event.
ALTER TABLE users ADD COLUMN signing_key jsonb;
ALTER TABLE audit_events ADD COLUMN author_key text, ADD COLUMN signature text;
