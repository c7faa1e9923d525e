-- A value another device's edit replaced ("changed by someone else") is shown to the
-- director until she acts on it: restores it (a new edit through the change log) or
-- keeps what is there now. Device-local, never synced.
ALTER TABLE field_history ADD COLUMN settled_at TEXT;
-- Values noted before this version were shown in the child's file already: settled.
UPDATE field_history SET settled_at = noted_at;
