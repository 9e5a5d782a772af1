-- Users have one authority: their staff record (named mutations only). The
-- users and roles tables are written from the directory's records; a
-- user's roles are kept on their row (the runtime role may not delete, so
-- user_roles, which a change of roles would have to delete from, is no
-- longer written; the server fills role_keys from it once per tenant).
ALTER TABLE users ADD COLUMN role_keys text[];

-- A change the server did not accept keeps its full content here (the desk
-- that sent it keeps it too, and may re-apply it).
ALTER TABLE mutation_outcomes ADD COLUMN mutation jsonb;

-- Audit events are never refused (that would break the device's chain);
-- one whose user is not the author of the change it records is flagged.
ALTER TABLE audit_events ADD COLUMN flag text;
