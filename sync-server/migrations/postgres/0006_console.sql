-- The supervisor console: people's logins, sessions, the console's access log, and a
-- read model of the children (kept by the console itself, off the sync path).
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('director', 'supervisor', 'county_admin', 'city_admin'));

CREATE TABLE people (
    account_id          BIGINT PRIMARY KEY REFERENCES accounts(id),
    password_hash       TEXT,
    login_code_hash     TEXT,
    login_code_expires_ms BIGINT,
    failed_logins       BIGINT NOT NULL DEFAULT 0,
    locked_until_ms     BIGINT
);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    csrf       TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE console_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    at_ms      BIGINT NOT NULL
);

CREATE TABLE console_children (
    child_id        UUID PRIMARY KEY,
    village         TEXT NOT NULL,
    name            TEXT NOT NULL,
    risk_colour     TEXT NOT NULL,
    categories      TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    added_on        TEXT NOT NULL,
    last_visit_on   TEXT,
    next_due_on     TEXT,
    agreement_until TEXT
);
CREATE INDEX console_children_village ON console_children(village);
CREATE TABLE console_visits (
    visit_id   UUID PRIMARY KEY,
    child_id   UUID NOT NULL,
    village    TEXT NOT NULL,
    visited_on TEXT NOT NULL
);
CREATE INDEX console_visits_child ON console_visits(child_id);
CREATE INDEX console_visits_village ON console_visits(village, visited_on);
CREATE TABLE console_referrals (
    referral_id     UUID PRIMARY KEY,
    child_id        UUID NOT NULL,
    village         TEXT NOT NULL,
    report          BOOLEAN NOT NULL,
    feedback_due_on TEXT NOT NULL,
    open            BOOLEAN NOT NULL
);
CREATE INDEX console_referrals_child ON console_referrals(child_id);
CREATE INDEX console_referrals_village ON console_referrals(village);
CREATE TABLE console_cursor (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO console_cursor (id, seq) VALUES (1, 0);
