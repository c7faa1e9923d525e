-- The dense device_seq rule (ingest.rs): changes a device pushed after a gap in its
-- device_seqs wait here, not applied and not fed, until the missing ones arrive. One
-- row per held seq; a re-stamped copy (same op_id) replaces it. held_ahead keeps only
-- the seqs older servers applied beyond a gap.
CREATE TABLE parked (
    device_id  BLOB NOT NULL,
    device_seq INTEGER NOT NULL,
    op_id      BLOB NOT NULL,
    change     TEXT NOT NULL,
    PRIMARY KEY (device_id, device_seq)
) WITHOUT ROWID;
