-- Proof of possession (DESIGN.md "Blobs need proof of possession"): a reference from a
-- row to a blob is proven once a device that may write the row uploaded every byte of
-- the blob itself, verified against the hash; only proven references make a blob
-- readable. References to blobs uploaded before this migration are taken as proven
-- (who uploaded them was not recorded).
ALTER TABLE blob_refs ADD COLUMN proven INTEGER NOT NULL DEFAULT 0;
UPDATE blob_refs SET proven = 1 WHERE sha256 IN (SELECT sha256 FROM blobs);
-- Chunks are kept per uploading device, so a device proves possession only with bytes
-- it sent. Uploads in progress start again from byte 0 (devices ask where to continue).
DROP TABLE blob_chunks;
CREATE TABLE blob_chunks (
    sha256    TEXT NOT NULL,
    device_id BLOB NOT NULL,
    "offset"  INTEGER NOT NULL,
    total     INTEGER NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (sha256, device_id, "offset")
) WITHOUT ROWID;
