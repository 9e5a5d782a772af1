-- An administrator's reset: the next sign-in must choose a new password
-- (written from the staff record, like the rest of the row).
ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
