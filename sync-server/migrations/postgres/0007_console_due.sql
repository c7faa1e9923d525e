-- The console's read model folds, once per change of a child's records, when the
-- child's next visit is due under the visit policy (none: exited) and whether the
-- child is left behind (needs a care agreement), so a view does not work them out
-- again for every child. The read model is derived from the feed: it is emptied and
-- the cursor reset, and the next console read folds it again with the new columns.
ALTER TABLE console_children ADD COLUMN due_on TEXT;
ALTER TABLE console_children ADD COLUMN left_behind BOOLEAN NOT NULL DEFAULT FALSE;
DELETE FROM console_children;
DELETE FROM console_visits;
DELETE FROM console_referrals;
UPDATE console_cursor SET seq = 0;

-- A township's directors and their devices are found by index, not by listing every
-- account. A county or the city is counted from two covering indexes, without reading
-- the rows: the children's figures per village, and the visits-per-week chart by day.
CREATE INDEX devices_account ON devices(account_id);
CREATE INDEX account_villages_village ON account_villages(village);
DROP INDEX console_children_village;
CREATE INDEX console_children_counts
    ON console_children(village, active, risk_colour, due_on, left_behind, agreement_until);
CREATE INDEX console_visits_day ON console_visits(visited_on, village);
