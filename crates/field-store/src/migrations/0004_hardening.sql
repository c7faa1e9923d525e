-- Issue 10's hardening.
--
-- A rejected change stays visible until the director acts on it: it names its row (and
-- the child the row belongs to) so that the row is not evicted while a refusal of it
-- is unsettled, and it records when and how it was settled ('acknowledged' by the
-- director, or 'fixed' by a later change to the same field that the server took).
ALTER TABLE rejected_change ADD COLUMN tbl TEXT;
ALTER TABLE rejected_change ADD COLUMN row_id TEXT;
ALTER TABLE rejected_change ADD COLUMN field TEXT;
ALTER TABLE rejected_change ADD COLUMN child_id TEXT;
ALTER TABLE rejected_change ADD COLUMN settled_at TEXT;
ALTER TABLE rejected_change ADD COLUMN settled_by TEXT;
UPDATE rejected_change SET
    tbl = json_extract(change, '$.table'),
    row_id = json_extract(change, '$.row_id'),
    field = json_extract(change, '$.field');
UPDATE rejected_change SET child_id = CASE
    WHEN tbl = 'child' THEN row_id
    ELSE (SELECT r.child_id FROM record r WHERE r.tbl = rejected_change.tbl AND r.row_id = rejected_change.row_id)
END;

-- The clock anchor: the server-corrected time of the last contact with the server and
-- the monotonic clock's reading at that moment (CLOCK_BOOTTIME on Linux and Android,
-- where it is `elapsedRealtime`), with the boot it belongs to. Within the same boot,
-- physical time is the anchor plus the monotonic time elapsed, whatever the wall clock
-- does meanwhile. NULL: no contact yet (or a device from before), fall back to the
-- wall clock and the learned offset.
ALTER TABLE device ADD COLUMN anchor_server_ms INTEGER;
ALTER TABLE device ADD COLUMN anchor_mono_ms INTEGER;
ALTER TABLE device ADD COLUMN anchor_boot_id TEXT;

-- roster_entry.initials now holds the name's search key (every plausible reading of
-- every character, see domain::pinyin::search_key) instead of one string of initials.
-- The keys are rebuilt by the store right after this migration (Rust knows the
-- readings, SQL does not).
