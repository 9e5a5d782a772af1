-- The sync kernel knows no domain (protocol 4).

-- Documents of kinds that need no tables of their own (staff, sites,
-- rooms, appointment types, working time, the waitlist, …).
ALTER TABLE sync_refs RENAME TO records;
DROP INDEX sync_refs_kind;
CREATE INDEX records_kind ON records (kind);

-- Saving a whole document is one kernel mutation for every such kind.
UPDATE outbox SET kind = 'save_document', mutation = json_set(mutation, '$.kind', 'save_document')
WHERE kind = 'save_ref';

-- The feed's chain now covers each change's content hash: the value held
-- at the cursor was computed the old way, so the next page sets it again.
UPDATE meta SET value = '' WHERE key = 'sync_cursor_hash';
