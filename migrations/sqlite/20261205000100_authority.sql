-- Users have one authority: their staff record (changed only by named
-- mutations). Every account without one gets it, as the directory writes
-- it; the users table stays what sign-in reads, written from the records.
INSERT INTO records (id, kind, doc)
SELECT u.id, 'staff', json_object(
    'id', u.id,
    'email', u.email,
    'name', u.name,
    'roles', json((SELECT json_group_array(r.key) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                   WHERE ur.user_id = u.id)),
    'active', json(CASE WHEN u.status = 'active' THEN 'true' ELSE 'false' END),
    'password_hash', u.password_hash,
    'specialization', (SELECT p.specialization FROM clinician_profiles p WHERE p.user_id = u.id),
    'registration_number', (SELECT p.registration_number FROM clinician_profiles p WHERE p.user_id = u.id))
FROM users u
WHERE u.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM records x WHERE x.id = u.id);

-- Staff records were whole documents tagged with their kind; they are
-- field-by-field records now, written without it.
UPDATE records SET doc = json_remove(doc, '$.kind') WHERE kind = 'staff';

-- After the server was restored from a backup, the workstation reads its
-- feed again from the start before sending anything, noting each record
-- it sees; a record it holds that the server no longer has (and that no
-- pending change of its own creates) is then dropped.
CREATE TABLE IF NOT EXISTS sync_reread_seen (id TEXT PRIMARY KEY) WITHOUT ROWID;
