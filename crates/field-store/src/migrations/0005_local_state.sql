-- Device-local state that is never synced: the director's unfinished forms and the
-- photos taken for them. Both live inside the (encrypted) database, never in files.

-- A form being filled in (a visit, a child's registration, …), saved field by field as
-- it changes, so that an app killed in the middle of a form loses nothing.
CREATE TABLE draft (
    kind       TEXT NOT NULL,   -- visit | child | agreement | …
    key        TEXT NOT NULL,   -- what the form is for (a child id, or "new")
    data       TEXT NOT NULL,   -- the form's fields as JSON, as the UI keeps them
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;

-- A photo already through the photo pipeline (oriented, resized, metadata stripped),
-- waiting for the visit it belongs to be saved. Moved into `blob` + a `photo` row in the
-- visit's own transaction.
CREATE TABLE staged_photo (
    id           TEXT PRIMARY KEY,
    full_sha256  TEXT    NOT NULL,
    full         BLOB    NOT NULL,
    thumb_sha256 TEXT    NOT NULL,
    thumb        BLOB    NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    created_at   TEXT    NOT NULL
) WITHOUT ROWID;
