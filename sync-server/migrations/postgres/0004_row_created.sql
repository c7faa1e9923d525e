-- The stamp (hlc, device_id) of the device write that created each row: the changes
-- carrying it are the row's creating write; after it, an append-only row accepts only
-- the fields the schema allows after creation (see ingest.rs, "Write-once").
-- Rows stored before: the smallest stamp among their logged changes.
ALTER TABLE rows ADD COLUMN created_hlc BIGINT, ADD COLUMN created_device UUID;
UPDATE rows r SET created_hlc = c.hlc, created_device = c.device_id
FROM (
    SELECT DISTINCT ON (table_name, row_id) table_name, row_id, hlc, device_id
    FROM changes ORDER BY table_name, row_id, hlc, device_id
) c
WHERE c.table_name = r.table_name AND c.row_id = r.row_id;
