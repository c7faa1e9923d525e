-- The names of the villages this device holds, as the server's roster names them at
-- enrollment (演示村1 rather than 370602001). Device-local, never synced; a village
-- without a row here is shown by its code.
CREATE TABLE village_name (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
) WITHOUT ROWID;
