-- Unsent changes a revoked (lost) phone handed over at its last contact: kept, shown to
-- the supervisor, and applied only when someone accepts them.
CREATE TABLE quarantine (
    device_id   UUID NOT NULL,
    op_id       UUID NOT NULL,
    device_seq  BIGINT NOT NULL,
    change      TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, op_id)
);
