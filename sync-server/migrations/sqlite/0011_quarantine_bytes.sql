-- What a lost phone's quarantine holds is bounded in bytes as well as in changes
-- (ingest::quarantine): each row's size as ingest counts it (ingest::stored_bytes; for
-- rows kept before the bound, the length of the stored text).
ALTER TABLE quarantine ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE quarantine SET bytes = length(CAST(change AS BLOB));
