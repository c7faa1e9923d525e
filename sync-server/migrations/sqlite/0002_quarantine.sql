-- Unsent changes a revoked (lost) phone handed over at its last contact: kept, shown to
-- the supervisor, and applied only when someone accepts them.
CREATE TABLE quarantine (
    device_id   BLOB NOT NULL,
    op_id       BLOB NOT NULL,
    device_seq  INTEGER NOT NULL,
    change      TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, op_id)
) WITHOUT ROWID;
