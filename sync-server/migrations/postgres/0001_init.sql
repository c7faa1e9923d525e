-- Tonghu sync server, PostgreSQL schema v1. Same tables as the SQLite schema.
CREATE TABLE places (
    code   TEXT PRIMARY KEY,
    kind   TEXT NOT NULL CHECK (kind IN ('city', 'county', 'township', 'village')),
    name   TEXT NOT NULL,
    parent TEXT REFERENCES places(code)
);
CREATE INDEX places_parent ON places(parent);

CREATE TABLE accounts (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name  TEXT NOT NULL,
    role  TEXT NOT NULL CHECK (role IN ('director', 'supervisor', 'county_admin')),
    place TEXT REFERENCES places(code)
);
CREATE TABLE account_villages (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    village    TEXT NOT NULL REFERENCES places(code),
    PRIMARY KEY (account_id, village)
);

CREATE TABLE enroll_codes (
    code_id     TEXT PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    secret_hash TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    used_ms     BIGINT,
    device_id   UUID
);

CREATE TABLE devices (
    device_id      UUID PRIMARY KEY,
    account_id     BIGINT NOT NULL REFERENCES accounts(id),
    name           TEXT NOT NULL,
    app_version    TEXT NOT NULL,
    token_hash     BYTEA NOT NULL UNIQUE,
    enrolled_ms    BIGINT NOT NULL,
    revoked_ms     BIGINT,
    last_seen_ms   BIGINT,
    heartbeat      TEXT,
    max_device_seq BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE changes (
    op_id       UUID PRIMARY KEY,
    device_id   UUID NOT NULL,
    device_seq  BIGINT NOT NULL,
    account_id  BIGINT NOT NULL,
    table_name  TEXT NOT NULL,
    row_id      UUID NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    hlc         BIGINT NOT NULL,
    scope       TEXT NOT NULL,
    received_ms BIGINT NOT NULL
);
CREATE INDEX changes_device_seq ON changes(device_id, device_seq);
CREATE INDEX changes_row ON changes(row_id);

CREATE TABLE rejections (
    device_id  UUID NOT NULL,
    op_id      UUID NOT NULL,
    device_seq BIGINT NOT NULL,
    code       TEXT NOT NULL,
    message    TEXT NOT NULL,
    change     TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    PRIMARY KEY (device_id, op_id)
);
CREATE INDEX rejections_device_seq ON rejections(device_id, device_seq);

CREATE TABLE fields (
    table_name TEXT NOT NULL,
    row_id     UUID NOT NULL,
    field      TEXT NOT NULL,
    hlc        BIGINT NOT NULL,
    device_id  UUID NOT NULL,
    value      TEXT NOT NULL,
    op_id      UUID NOT NULL,
    PRIMARY KEY (table_name, row_id, field)
);

CREATE TABLE rows (
    table_name TEXT NOT NULL,
    row_id     UUID NOT NULL,
    scope      TEXT NOT NULL,
    child_id   UUID,
    PRIMARY KEY (table_name, row_id)
);
CREATE INDEX rows_child ON rows(child_id) WHERE child_id IS NOT NULL;
CREATE INDEX rows_scope ON rows(scope);

-- The scope feed. server_seq comes from feed_counter, whose single row every ingest
-- transaction locks first (see store/postgres.rs).
CREATE TABLE feed (
    server_seq BIGINT PRIMARY KEY,
    scope      TEXT NOT NULL,
    op_id      UUID NOT NULL
);
CREATE INDEX feed_scope_seq ON feed(scope, server_seq);
CREATE TABLE feed_counter (
    id       INT PRIMARY KEY CHECK (id = 1),
    next_seq BIGINT NOT NULL
);
INSERT INTO feed_counter (id, next_seq) VALUES (1, 1);

CREATE TABLE blob_refs (
    sha256     TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row_id     UUID NOT NULL,
    PRIMARY KEY (sha256, table_name, row_id)
);

CREATE TABLE blob_chunks (
    sha256 TEXT NOT NULL,
    "offset" BIGINT NOT NULL,
    total  BIGINT NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (sha256, "offset")
);

CREATE TABLE blobs (
    sha256       TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    completed_ms BIGINT NOT NULL
);

CREATE TABLE access_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   BIGINT NOT NULL,
    device_id    UUID NOT NULL,
    scope        TEXT NOT NULL,
    record_count BIGINT NOT NULL,
    at_ms        BIGINT NOT NULL
);

CREATE TABLE bench_plain (
    op_id       UUID PRIMARY KEY,
    device_id   UUID NOT NULL,
    device_seq  BIGINT NOT NULL,
    account_id  BIGINT NOT NULL,
    table_name  TEXT NOT NULL,
    row_id      UUID NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    hlc         BIGINT NOT NULL,
    scope       TEXT NOT NULL,
    received_ms BIGINT NOT NULL
);
