-- A refresh-token family (the tokens descending from one sign-in by
-- rotation) ends at a fixed time, 30 days after that sign-in, however often
-- it is rotated; each token carries its family's end. Existing families end
-- 30 days after their first token. The backfill runs with row-level
-- security not forced (the owner reads every tenant's rows), inside this
-- migration's transaction, which holds the table's lock until it is forced
-- again.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at timestamptz;
ALTER TABLE refresh_tokens NO FORCE ROW LEVEL SECURITY;
UPDATE refresh_tokens r SET family_expires_at = f.started + interval '30 days'
  FROM (SELECT tenant_id, family_id, min(issued_at) AS started FROM refresh_tokens GROUP BY tenant_id, family_id) f
 WHERE f.tenant_id = r.tenant_id AND f.family_id = r.family_id;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;
