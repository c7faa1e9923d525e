-- The supervisor console: people's logins, sessions, the console's access log, and a
-- read model of the children (kept by the console itself, off the sync path).

-- A city admin role: accounts' role check is widened (SQLite rebuilds the table; the
-- other tables keep referring to it by name).
CREATE TABLE accounts_v6 (
    id    INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name  TEXT NOT NULL,
    role  TEXT NOT NULL CHECK (role IN ('director', 'supervisor', 'county_admin', 'city_admin')),
    place TEXT REFERENCES places(code)
);
INSERT INTO accounts_v6 (id, login, name, role, place) SELECT id, login, name, role, place FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v6 RENAME TO accounts;

-- A person's console login: a one-time code from an admin first, then a password
-- (both Argon2id hashes). Failed attempts lock the login for a while.
CREATE TABLE people (
    account_id          INTEGER PRIMARY KEY REFERENCES accounts(id),
    password_hash       TEXT,
    login_code_hash     TEXT,
    login_code_expires_ms INTEGER,
    failed_logins       INTEGER NOT NULL DEFAULT 0,
    locked_until_ms     INTEGER
);

-- Console sessions: the cookie's SHA-256, never the cookie.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    csrf       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_account ON sessions(account_id);

-- Who looked at or exported what, when (ids and place codes only, never names).
CREATE TABLE console_log (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);

-- The console's read model, rebuilt from the field winners for every child a new feed
-- entry touches (console/projection.rs); console_cursor is the last server_seq folded in.
CREATE TABLE console_children (
    child_id        BLOB PRIMARY KEY,
    village         TEXT NOT NULL,
    name            TEXT NOT NULL,
    risk_colour     TEXT NOT NULL,
    categories      TEXT NOT NULL,
    active          INTEGER NOT NULL,
    added_on        TEXT NOT NULL,
    last_visit_on   TEXT,
    next_due_on     TEXT,
    agreement_until TEXT
) WITHOUT ROWID;
CREATE INDEX console_children_village ON console_children(village);
CREATE TABLE console_visits (
    visit_id   BLOB PRIMARY KEY,
    child_id   BLOB NOT NULL,
    village    TEXT NOT NULL,
    visited_on TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_visits_child ON console_visits(child_id);
CREATE INDEX console_visits_village ON console_visits(village, visited_on);
CREATE TABLE console_referrals (
    referral_id     BLOB PRIMARY KEY,
    child_id        BLOB NOT NULL,
    village         TEXT NOT NULL,
    report          INTEGER NOT NULL,
    feedback_due_on TEXT NOT NULL,
    open            INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_referrals_child ON console_referrals(child_id);
CREATE INDEX console_referrals_village ON console_referrals(village);
CREATE TABLE console_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO console_cursor (id, seq) VALUES (1, 0);
