-- The county and city views read a summary per township instead of every child of
-- the area (console::area). Both tables are derived from the console's read model and
-- kept with it (console_apply); a township without a row in console_area_counts is
-- built from the read model at its next county or city view, so starting empty is
-- right for a store of any age.

-- A township's child figures as of the day `as_of` (they depend on the day: overdue,
-- agreements missing or ending soon, late referrals). A fold that changes a child of
-- the township sets `as_of` to '' (stale), and so does a new day; a view recomputes a
-- stale row from console_children, under the read model's cursor lock.
CREATE TABLE console_area_counts (
    township            TEXT PRIMARY KEY,
    as_of               TEXT NOT NULL,
    children            BIGINT NOT NULL,
    red                 BIGINT NOT NULL,
    yellow              BIGINT NOT NULL,
    blue                BIGINT NOT NULL,
    overdue             BIGINT NOT NULL,
    agreements_missing  BIGINT NOT NULL,
    agreements_expiring BIGINT NOT NULL,
    referrals_late      BIGINT NOT NULL,
    reports_late        BIGINT NOT NULL
);

-- Visits per day per township (the visits-per-week chart), for the townships that
-- have a row in console_area_counts: kept by the fold, change by change (minus the
-- replaced children's visits, plus their new ones), built whole with that row.
CREATE TABLE console_area_visits (
    township   TEXT NOT NULL,
    visited_on TEXT NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (township, visited_on)
);
CREATE INDEX console_area_visits_day ON console_area_visits(visited_on, township, n);
