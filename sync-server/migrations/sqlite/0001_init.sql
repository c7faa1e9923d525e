-- Tonghu sync server, SQLite schema v1.
CREATE TABLE places (
    code   TEXT PRIMARY KEY,
    kind   TEXT NOT NULL CHECK (kind IN ('city', 'county', 'township', 'village')),
    name   TEXT NOT NULL,
    parent TEXT REFERENCES places(code)
);
CREATE INDEX places_parent ON places(parent);

CREATE TABLE accounts (
    id    INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name  TEXT NOT NULL,
    role  TEXT NOT NULL CHECK (role IN ('director', 'supervisor', 'county_admin')),
    place TEXT REFERENCES places(code)
);
CREATE TABLE account_villages (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    village    TEXT NOT NULL REFERENCES places(code),
    PRIMARY KEY (account_id, village)
) WITHOUT ROWID;

CREATE TABLE enroll_codes (
    code_id     TEXT PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    secret_hash TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    used_ms     INTEGER,
    device_id   BLOB
);

CREATE TABLE devices (
    device_id      BLOB PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts(id),
    name           TEXT NOT NULL,
    app_version    TEXT NOT NULL,
    token_hash     BLOB NOT NULL UNIQUE,
    enrolled_ms    INTEGER NOT NULL,
    revoked_ms     INTEGER,
    last_seen_ms   INTEGER,
    heartbeat      TEXT,
    max_device_seq INTEGER NOT NULL DEFAULT 0
);

-- The change log: every accepted change, exactly once.
CREATE TABLE changes (
    op_id       BLOB PRIMARY KEY,
    device_id   BLOB NOT NULL,
    device_seq  INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    table_name  TEXT NOT NULL,
    row_id      BLOB NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    hlc         INTEGER NOT NULL,
    scope       TEXT NOT NULL,
    received_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX changes_device_seq ON changes(device_id, device_seq);
CREATE INDEX changes_row ON changes(row_id);

-- Refused changes, kept so they count as held and a supervisor can see them.
CREATE TABLE rejections (
    device_id  BLOB NOT NULL,
    op_id      BLOB NOT NULL,
    device_seq INTEGER NOT NULL,
    code       TEXT NOT NULL,
    message    TEXT NOT NULL,
    change     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    PRIMARY KEY (device_id, op_id)
) WITHOUT ROWID;
CREATE INDEX rejections_device_seq ON rejections(device_id, device_seq);

-- The winning version of every field.
CREATE TABLE fields (
    table_name TEXT NOT NULL,
    row_id     BLOB NOT NULL,
    field      TEXT NOT NULL,
    hlc        INTEGER NOT NULL,
    device_id  BLOB NOT NULL,
    value      TEXT NOT NULL,
    op_id      BLOB NOT NULL,
    PRIMARY KEY (table_name, row_id, field)
) WITHOUT ROWID;

-- Each row's current scope; child_id for rows that follow a child.
CREATE TABLE rows (
    table_name TEXT NOT NULL,
    row_id     BLOB NOT NULL,
    scope      TEXT NOT NULL,
    child_id   BLOB,
    PRIMARY KEY (table_name, row_id)
) WITHOUT ROWID;
CREATE INDEX rows_child ON rows(child_id) WHERE child_id IS NOT NULL;
CREATE INDEX rows_scope ON rows(scope);

-- The scope feed: server_seq is the rowid, assigned by the one writer in commit order.
CREATE TABLE feed (
    server_seq INTEGER PRIMARY KEY,
    scope      TEXT NOT NULL,
    op_id      BLOB NOT NULL
);
CREATE INDEX feed_scope_seq ON feed(scope, server_seq);

CREATE TABLE blob_refs (
    sha256     TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row_id     BLOB NOT NULL,
    PRIMARY KEY (sha256, table_name, row_id)
) WITHOUT ROWID;

CREATE TABLE blob_chunks (
    sha256 TEXT NOT NULL,
    offset INTEGER NOT NULL,
    total  INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (sha256, offset)
) WITHOUT ROWID;

CREATE TABLE blobs (
    sha256       TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    completed_ms INTEGER NOT NULL
);

CREATE TABLE access_log (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL,
    device_id    BLOB NOT NULL,
    scope        TEXT NOT NULL,
    record_count INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL
);

-- Benchmark baseline: the change log's columns, no indexes beyond the key.
CREATE TABLE bench_plain (
    op_id       BLOB PRIMARY KEY,
    device_id   BLOB NOT NULL,
    device_seq  INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    table_name  TEXT NOT NULL,
    row_id      BLOB NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    hlc         INTEGER NOT NULL,
    scope       TEXT NOT NULL,
    received_ms INTEGER NOT NULL
) WITHOUT ROWID;
