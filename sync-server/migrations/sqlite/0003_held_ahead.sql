-- Held device_seqs above a device's max_device_seq (pushed out of order, or after a
-- gap), so that the highest contiguous held seq advances without an index over the
-- whole change log: max_device_seq plus this table are exactly the held seqs that
-- matter. Ingest keeps it (see store/sqlite.rs).
CREATE TABLE held_ahead (
    device_id  BLOB NOT NULL,
    device_seq INTEGER NOT NULL,
    PRIMARY KEY (device_id, device_seq)
) WITHOUT ROWID;
INSERT OR IGNORE INTO held_ahead (device_id, device_seq)
    SELECT c.device_id, c.device_seq FROM changes c JOIN devices d ON d.device_id = c.device_id
    WHERE c.device_seq > d.max_device_seq
    UNION
    SELECT r.device_id, r.device_seq FROM rejections r JOIN devices d ON d.device_id = r.device_id
    WHERE r.device_seq > d.max_device_seq;
DROP INDEX changes_device_seq;
