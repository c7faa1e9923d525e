-- The device's store. Every synced row of every table lives in `record`: its current
-- field values (`doc`) and the clock of each field (`clocks`). Local writes also append
-- to `outbox` in the same transaction; pulled changes that lose, or that replace
-- another device's value, leave the loser in `field_history`.

CREATE TABLE device (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    device_id        TEXT    NOT NULL,
    next_seq         INTEGER NOT NULL,           -- the next device_seq to mint
    hlc_last         INTEGER NOT NULL,           -- last clock value handed out or observed
    clock_offset_ms  INTEGER NOT NULL DEFAULT 0, -- correction learned from the server
    pull_cursor      INTEGER NOT NULL DEFAULT 0, -- last server_seq applied
    acked_seq        INTEGER NOT NULL DEFAULT 0, -- highest device_seq the server holds
    scopes           TEXT    NOT NULL DEFAULT '[]', -- villages this device holds ([] = not enrolled)
    visit_policy     TEXT,                       -- JSON VisitPolicy; NULL = domain default
    created_at       TEXT    NOT NULL
);

CREATE TABLE record (
    tbl      TEXT NOT NULL,
    row_id   TEXT NOT NULL,
    scope    TEXT NOT NULL,
    child_id TEXT,           -- the child this row belongs to (NULL for a child itself)
    doc      TEXT NOT NULL,  -- {"field": value}
    clocks   TEXT NOT NULL,  -- {"field": ["hlc hex", "device uuid"]}
    PRIMARY KEY (tbl, row_id)
) WITHOUT ROWID;
-- Not a partial index: a partial one makes SQLite re-prepare every statement that
-- binds child_id (the plan would depend on the bound value).
CREATE INDEX record_by_child ON record (child_id, tbl);
-- The latest visit of a child, for the roster.
CREATE INDEX record_visit_by_time ON record (child_id, tbl, json_extract(doc, '$.visited_at'));
CREATE INDEX record_by_scope ON record (scope, tbl);

-- One row per local write: the changes of one row made in one transaction, with a
-- dense range of device_seq [first_seq, first_seq + n).
CREATE TABLE outbox (
    first_seq  INTEGER PRIMARY KEY,
    n          INTEGER NOT NULL,
    tbl        TEXT    NOT NULL,
    row_id     TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    changes    TEXT    NOT NULL,  -- [{"op_id","field","value","hlc"}]
    written_at INTEGER NOT NULL   -- wall clock ms, for "oldest pending"
);
CREATE INDEX outbox_by_row ON outbox (tbl, row_id);

-- Changes the server refused, with its reason: kept and shown, never dropped silently.
CREATE TABLE rejected_change (
    device_seq  INTEGER PRIMARY KEY,
    op_id       TEXT NOT NULL,
    change      TEXT NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    rejected_at TEXT NOT NULL
);

-- Values that lost a merge against another device's write: "changed by someone else".
CREATE TABLE field_history (
    id             INTEGER PRIMARY KEY,
    tbl            TEXT    NOT NULL,
    row_id         TEXT    NOT NULL,
    field          TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    hlc            INTEGER NOT NULL,
    device_id      TEXT    NOT NULL,
    winner_hlc     INTEGER NOT NULL,
    winner_device  TEXT    NOT NULL,
    noted_at       TEXT    NOT NULL
);
-- A loser is noted once, however often the page that carried it is applied.
CREATE UNIQUE INDEX field_history_once ON field_history (tbl, row_id, field, hlc, device_id);

-- Photos and signature images, content-addressed.
CREATE TABLE blob (
    sha256     TEXT PRIMARY KEY,
    kind       TEXT    NOT NULL,  -- photo | thumb | signature
    bytes      BLOB    NOT NULL,
    size       INTEGER NOT NULL,
    uploaded   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL
) WITHOUT ROWID;

-- The director's roster, derived from `record` in the same transaction as every write
-- or pull that touches a child or a visit, so the list opens instantly.
CREATE TABLE roster_entry (
    child_id        TEXT PRIMARY KEY,
    scope           TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    initials        TEXT    NOT NULL,
    categories      TEXT    NOT NULL,  -- JSON list of codes
    risk_rank       INTEGER NOT NULL,  -- red 0 … green 3
    risk_colour     TEXT    NOT NULL,
    active          INTEGER NOT NULL,
    last_visit_on   TEXT,
    last_visit_unsynced INTEGER NOT NULL DEFAULT 0,
    next_due_on     TEXT               -- NULL for a child who has left the roster
) WITHOUT ROWID;
CREATE INDEX roster_by_due ON roster_entry (active, next_due_on, risk_rank);
