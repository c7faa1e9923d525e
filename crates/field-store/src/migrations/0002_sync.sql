-- Enrollment: which server this device syncs with and its device token (inside the
-- encrypted database, never in a plain file).
ALTER TABLE device ADD COLUMN server_url TEXT;
ALTER TABLE device ADD COLUMN token TEXT;
ALTER TABLE device ADD COLUMN account_id TEXT;
ALTER TABLE device ADD COLUMN role TEXT;
ALTER TABLE device ADD COLUMN last_sync_at TEXT;
