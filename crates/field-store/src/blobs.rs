//! Photos and signature images, content-addressed by SHA-256 inside the device's
//! (encryptable) database — never in the phone's gallery. A blob is written in the same
//! transaction as the record that names it.

use crate::error::{Result, StoreError};
use crate::store::Store;
use rusqlite::{params, Connection, OptionalExtension};

/// What a blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobKind {
    Photo,
    Thumb,
    Signature,
}

impl BlobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlobKind::Photo => "photo",
            BlobKind::Thumb => "thumb",
            BlobKind::Signature => "signature",
        }
    }
}

/// Stores a blob (a no-op if the same content is already held).
pub(crate) fn put_blob(
    conn: &Connection,
    sha256: &str,
    kind: BlobKind,
    bytes: &[u8],
    at: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO blob (sha256, kind, bytes, size, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sha256) DO NOTHING",
    )?
    .execute(params![
        sha256,
        kind.as_str(),
        bytes,
        bytes.len() as i64,
        at
    ])?;
    Ok(())
}

/// A blob waiting for upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingBlob {
    pub sha256: String,
    pub kind: String,
    pub size: u64,
}

impl Store {
    /// A blob's bytes.
    pub fn blob(&self, sha256: &str) -> Result<Vec<u8>> {
        self.conn
            .query_row("SELECT bytes FROM blob WHERE sha256 = ?1", [sha256], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "blob",
                id: sha256.to_string(),
            })
    }

    /// Whether a blob is held.
    pub fn has_blob(&self, sha256: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM blob WHERE sha256 = ?1", [sha256], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Stores a blob fetched from the server (its hash already verified by the caller).
    pub fn store_fetched_blob(&mut self, sha256: &str, kind: BlobKind, bytes: &[u8]) -> Result<()> {
        let at = self.now_utc_rfc3339();
        put_blob(&self.conn, sha256, kind, bytes, &at)?;
        self.conn
            .execute("UPDATE blob SET uploaded = 1 WHERE sha256 = ?1", [sha256])?;
        Ok(())
    }

    /// Blobs not yet uploaded, oldest first.
    pub fn pending_blobs(&self) -> Result<Vec<PendingBlob>> {
        let mut stmt = self.conn.prepare(
            "SELECT sha256, kind, size FROM blob WHERE uploaded = 0 ORDER BY created_at, sha256",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingBlob {
                sha256: r.get(0)?,
                kind: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Marks a blob as held by the server.
    pub fn mark_blob_uploaded(&mut self, sha256: &str) -> Result<()> {
        self.conn
            .execute("UPDATE blob SET uploaded = 1 WHERE sha256 = ?1", [sha256])?;
        Ok(())
    }
}
