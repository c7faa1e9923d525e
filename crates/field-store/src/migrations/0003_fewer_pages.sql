-- Fewer B-tree pages per local write (issue #2's write-cost goal): a visit used to
-- touch nine B-trees and an overflow page; now five (the record, its (tbl, row_id)
-- index, its child index, the outbox row and the roster line).
--
-- * record_by_child and record_visit_by_time become one index (child_id, tbl, ts).
-- * record_by_scope served only rare whole-village operations (export, drop, evict),
--   which now scan.
-- * outbox_by_row served "is this row unsent?" lookups; the roster now answers
--   "visited but not synced" from the visit's local device_seq (below).
-- * roster_by_due: the roster query sorts all of a director's children anyway.
-- * The device row is no longer rewritten by every local write: the next device_seq
--   and the last clock value are the larger of the device row and the outbox's last
--   row (which carries its stamp), and the device row takes them over whenever
--   outbox rows are deleted (see store::fold_outbox_counters).
DROP INDEX record_by_child;
DROP INDEX record_by_scope;
DROP INDEX record_visit_by_time;
-- `record` becomes a rowid table: new rows append at the right end of the table's
-- B-tree (SQLite's quick balance), where a WITHOUT ROWID table of ~600-byte rows
-- rebalanced three sibling pages every few inserts. (tbl, row_id) stays unique.
CREATE TABLE record_new (
    id       INTEGER PRIMARY KEY,
    tbl      TEXT NOT NULL,
    row_id   TEXT NOT NULL,
    scope    TEXT NOT NULL,
    child_id TEXT,
    doc      TEXT NOT NULL,
    clocks   NOT NULL,       -- BLOB (record::encode_clocks); JSON text in rows written before
    ts       TEXT,           -- a visit's visited_at (for the child's latest visit), else NULL
    UNIQUE (tbl, row_id)
);
INSERT INTO record_new (tbl, row_id, scope, child_id, doc, clocks, ts)
    SELECT tbl, row_id, scope, child_id, doc, clocks,
           CASE tbl WHEN 'visit' THEN json_extract(doc, '$.visited_at') END
    FROM record ORDER BY tbl, row_id;
DROP TABLE record;
ALTER TABLE record_new RENAME TO record;
-- A child's rows and, for visits, their time: the child's file and the roster's latest
-- visit. A plain column, not an expression on `doc`, so that an insert does not make
-- SQLite parse the row's JSON.
CREATE INDEX record_by_child ON record (child_id, tbl, ts);
DROP INDEX outbox_by_row;
DROP INDEX roster_by_due;
ALTER TABLE outbox ADD COLUMN hlc INTEGER NOT NULL DEFAULT 0;
-- A write's changes as [[field, value], …] with its first op_id here (the others follow
-- by one) and its stamp in `hlc`: about half the bytes per write. NULL = a row written
-- before, whose `changes` still hold an op_id and stamp per change.
ALTER TABLE outbox ADD COLUMN op_base BLOB;
-- The device_seq of a row's latest local write (NULL if it only came from the server):
-- "visited, not synced" is then last_visit_seq > device.acked_seq, with no outbox
-- lookup and no roster write when a push is acknowledged.
ALTER TABLE record ADD COLUMN local_seq INTEGER;
UPDATE record SET local_seq = (
    SELECT max(first_seq) FROM outbox o WHERE o.tbl = record.tbl AND o.row_id = record.row_id);
ALTER TABLE roster_entry ADD COLUMN last_visit_seq INTEGER;
UPDATE roster_entry SET last_visit_seq = (
    SELECT local_seq FROM record
    WHERE child_id = roster_entry.child_id AND tbl = 'visit'
      AND json_extract(doc, '$.voided') IS NULL
    ORDER BY ts DESC LIMIT 1);
ALTER TABLE roster_entry DROP COLUMN last_visit_unsynced;
-- record.clocks is now written as a compact BLOB (record::encode_clocks); rows written
-- before keep their JSON text until they next change (record::decode_clocks reads both).
