-- The newest app version the server says its deployment offers (device-local, never
-- synced): the app tells the director, in plain words, that an update is available
-- while it runs an older one. No row: the server said nothing.
CREATE TABLE app_release (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    latest   TEXT NOT NULL,
    noted_at TEXT NOT NULL
);
