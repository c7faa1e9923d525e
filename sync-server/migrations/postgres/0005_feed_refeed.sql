-- Marks feed entries written because a row moved into the entry's village (a re-feed),
-- as opposed to a change's own entries written when it was ingested. A pull without
-- include_own skips the puller's own changes only at the latter: it holds them, but it
-- may lack a re-fed row (it evicted the row when the row left its villages).
ALTER TABLE feed ADD COLUMN refeed BOOLEAN NOT NULL DEFAULT false;
-- Earlier re-feeds: every entry of an op after its first.
UPDATE feed f SET refeed = true
FROM (SELECT op_id, min(server_seq) AS first FROM feed GROUP BY op_id HAVING count(*) > 1) d
WHERE f.op_id = d.op_id AND f.server_seq > d.first;
