-- The console at the doorstep (issue 14).

-- The deployment's secret that signs the login forms' CSRF tokens: one row, made at
-- first use, read by every server process.
CREATE TABLE console_secret (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);

-- Failed console logins under names that are no console account, counted under the
-- SHA-256 of the lower-cased name (never the name), so that such a login locks like a
-- real one and no answer tells which logins exist.
CREATE TABLE unknown_logins (
    key             BLOB PRIMARY KEY,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER
) WITHOUT ROWID;

-- How old a phone's heartbeat counts are: the device's max_device_seq when the
-- heartbeat came (before that push's changes were held) and the blobs it finished
-- uploading since, so the console shows the phone's pending counts as of now.
ALTER TABLE devices ADD COLUMN heartbeat_seq INTEGER;
ALTER TABLE devices ADD COLUMN blobs_since_heartbeat INTEGER NOT NULL DEFAULT 0;
