-- Held device_seqs above a device's max_device_seq (pushed out of order, or after a
-- gap), so that the highest contiguous held seq advances without an index over the
-- whole change log: max_device_seq plus this table are exactly the held seqs that
-- matter. Ingest keeps it (see store/postgres.rs).
CREATE TABLE held_ahead (
    device_id  UUID NOT NULL,
    device_seq BIGINT NOT NULL,
    PRIMARY KEY (device_id, device_seq)
);
INSERT INTO held_ahead (device_id, device_seq)
    SELECT c.device_id, c.device_seq FROM changes c JOIN devices d ON d.device_id = c.device_id
    WHERE c.device_seq > d.max_device_seq
    UNION
    SELECT r.device_id, r.device_seq FROM rejections r JOIN devices d ON d.device_id = r.device_id
    WHERE r.device_seq > d.max_device_seq
ON CONFLICT DO NOTHING;
DROP INDEX changes_device_seq;

-- Keys that are codes and identifiers, never words: compare them bytewise. Under a
-- libc locale such as C.UTF-8 every index comparison of a TEXT column calls strcoll;
-- these indexes are touched several times per ingested change.
ALTER TABLE fields
    ALTER COLUMN table_name TYPE TEXT COLLATE "C",
    ALTER COLUMN field TYPE TEXT COLLATE "C";
ALTER TABLE rows
    ALTER COLUMN table_name TYPE TEXT COLLATE "C",
    ALTER COLUMN scope TYPE TEXT COLLATE "C";
ALTER TABLE feed ALTER COLUMN scope TYPE TEXT COLLATE "C";
ALTER TABLE blob_refs
    ALTER COLUMN sha256 TYPE TEXT COLLATE "C",
    ALTER COLUMN table_name TYPE TEXT COLLATE "C";
