-- The stamp (hlc, device_id) of the device write that created each row: the changes
-- carrying it are the row's creating write; after it, an append-only row accepts only
-- the fields the schema allows after creation (see ingest.rs, "Write-once").
-- Rows stored before: the smallest stamp among their logged changes.
ALTER TABLE rows ADD COLUMN created_hlc INTEGER;
ALTER TABLE rows ADD COLUMN created_device BLOB;
UPDATE rows SET (created_hlc, created_device) = (
    SELECT c.hlc, c.device_id FROM changes c
    WHERE c.row_id = rows.row_id AND c.table_name = rows.table_name
    ORDER BY c.hlc, c.device_id LIMIT 1
);
