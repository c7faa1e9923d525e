-- Active discovery (主动发现): monthly allowance lists matched against the roster.
-- The uploaded file is never stored: only the list kinds (data), one line per import
-- with its counts, the findings a task needs, and which roster children's families
-- were on each month's list (ids only, for next month's review findings).

-- The server's own replica writes tasks and county decisions through ingest: its
-- account has the role 'server' (accounts' role check widened; SQLite rebuilds the
-- table as 0006 did).
CREATE TABLE accounts_v20 (
    id    INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name  TEXT NOT NULL,
    role  TEXT NOT NULL CHECK (role IN ('director', 'supervisor', 'county_admin', 'city_admin', 'server')),
    place TEXT REFERENCES places(code)
);
INSERT INTO accounts_v20 (id, login, name, role, place) SELECT id, login, name, role, place FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v20 RENAME TO accounts;

-- List kinds are data: a county adds its own (the education bureau's dropout list)
-- without a release. county NULL: every county's.
CREATE TABLE discovery_list_kinds (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    meaning    TEXT NOT NULL,
    due_days   INTEGER NOT NULL DEFAULT 30,
    county     TEXT REFERENCES places(code),
    created_ms INTEGER NOT NULL
);
INSERT INTO discovery_list_kinds (code, name, meaning, due_days, county, created_ms) VALUES
 ('dibao_urban', '城市低保', '城市低保家庭中的未成年人：请入户核查家庭和监护情况，判断是否属于困境儿童、事实无人抚养儿童等保障对象', 30, NULL, 0),
 ('dibao_rural', '农村低保', '农村低保家庭中的未成年人：请入户核查家庭和监护情况，判断是否属于困境儿童、事实无人抚养儿童等保障对象', 30, NULL, 0),
 ('tekun', '特困供养', '特困供养人员家庭中的未成年人：请入户核查是否为孤儿或事实无人抚养儿童', 15, NULL, 0),
 ('disability_living', '困难残疾人生活补贴', '领取困难残疾人生活补贴：本人是未成年人的，核查是否为困境儿童；是儿童的父母或监护人的，核查儿童是否事实无人抚养', 30, NULL, 0),
 ('disability_care', '重度残疾人护理补贴', '领取重度残疾人护理补贴（一、二级残疾）：是儿童的父母的，请核查儿童是否属于事实无人抚养儿童', 15, NULL, 0);

-- The key that makes task ids unguessable from the ID numbers they are derived from.
CREATE TABLE discovery_secret (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);

-- One line per committed import: its counts (never its rows).
CREATE TABLE discovery_imports (
    import_id      BLOB PRIMARY KEY,
    list_kind      TEXT NOT NULL,
    list_month     TEXT NOT NULL,
    area           TEXT NOT NULL,
    account_id     INTEGER NOT NULL,
    rows_read      INTEGER NOT NULL,
    minors         INTEGER NOT NULL,
    on_roster      INTEGER NOT NULL,
    findings       INTEGER NOT NULL,
    new_tasks      INTEGER NOT NULL,
    queued         INTEGER NOT NULL,
    invalid_rows   INTEGER NOT NULL,
    no_village     INTEGER NOT NULL,
    duplicates     INTEGER NOT NULL,
    replica_device BLOB,
    at_ms          INTEGER NOT NULL
);
CREATE INDEX discovery_imports_month ON discovery_imports(area, list_month, list_kind);

-- A finding: a task (task_id) in its village, or waiting in the county's queue for an
-- admin to give it a village (village NULL; details hold what the task will say).
CREATE TABLE discovery_findings (
    finding_id  BLOB PRIMARY KEY,
    task_id     BLOB UNIQUE,
    list_kind   TEXT NOT NULL,
    list_month  TEXT NOT NULL,
    last_month  TEXT NOT NULL,
    finding     TEXT NOT NULL,
    county      TEXT NOT NULL,
    village     TEXT,
    child_id    BLOB,
    import_id   BLOB NOT NULL,
    details     TEXT,
    place_text  TEXT,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX discovery_findings_month ON discovery_findings(county, list_month, list_kind);
CREATE INDEX discovery_findings_queue ON discovery_findings(county) WHERE village IS NULL;

-- Roster children whose family was on a month's list of a kind (ids only).
CREATE TABLE discovery_listed_children (
    list_kind  TEXT NOT NULL,
    list_month TEXT NOT NULL,
    child_id   BLOB NOT NULL,
    PRIMARY KEY (list_kind, list_month, child_id)
) WITHOUT ROWID;

-- The dated table of monthly standards (yuan per month per category), edited by
-- admins; a confirmation reads the line in force that day.
CREATE TABLE care_standards (
    id             INTEGER PRIMARY KEY,
    category       TEXT NOT NULL,
    yuan           INTEGER NOT NULL CHECK (yuan >= 0),
    effective_from TEXT NOT NULL,
    account_id     INTEGER,
    created_ms     INTEGER NOT NULL,
    UNIQUE (category, effective_from)
);
INSERT INTO care_standards (category, yuan, effective_from, account_id, created_ms) VALUES
 ('institution_orphan', 2503, '2025-01-01', NULL, 0),
 ('community_orphan', 2002, '2025-01-01', NULL, 0),
 ('de_facto_unsupported', 2002, '2025-01-01', NULL, 0),
 ('key_difficulty', 1785, '2025-01-01', NULL, 0);
