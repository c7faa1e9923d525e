//! Blobs (photos, signature images), content-addressed by lowercase hex SHA-256.
//!
//! Uploads are resumable: chunks are appended at the offset the server holds and kept in
//! the database (so any server process can continue an upload); when the last byte
//! arrives the whole blob is hashed, and only a verified blob goes into the
//! [`BlobStore`] (disk by default, S3-compatible for several processes).

pub mod disk;
pub mod s3;

use crate::error::StoreError;
use crate::store::{AppendOutcome, Database};
use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// Largest chunk one `PUT` may carry.
pub const MAX_CHUNK_BYTES: usize = 256 * 1024;
/// Largest blob.
pub const MAX_BLOB_BYTES: u64 = 10 * 1024 * 1024;

/// Where complete, hash-verified blobs live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores a verified blob (idempotent).
    async fn put(&self, sha256: &str, bytes: Vec<u8>) -> Result<(), StoreError>;
    /// The blob's bytes, if stored.
    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// What a chunk upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Stored; `complete` once the blob is verified and stored.
    Held { held_bytes: u64, complete: bool },
    /// The offset was not where the server is; continue from `held_bytes`.
    Conflict { held_bytes: u64 },
    /// The bytes did not hash to the name: the upload is discarded.
    HashMismatch,
}

/// Appends a chunk and, on the last one, verifies and stores the blob.
pub async fn append_chunk(
    db: &dyn Database,
    store: &dyn BlobStore,
    sha256: &str,
    offset: u64,
    total: u64,
    chunk: Vec<u8>,
    now_ms: i64,
) -> Result<ChunkOutcome, StoreError> {
    match db.blob_append(sha256, offset, total, chunk).await? {
        AppendOutcome::Appended { held_bytes } => Ok(ChunkOutcome::Held {
            held_bytes,
            complete: false,
        }),
        AppendOutcome::Conflict { held_bytes } => Ok(ChunkOutcome::Conflict { held_bytes }),
        AppendOutcome::AlreadyComplete { size } => Ok(ChunkOutcome::Held {
            held_bytes: size,
            complete: true,
        }),
        AppendOutcome::Full { bytes } => {
            let digest = hex::encode(Sha256::digest(&bytes));
            if digest != sha256 {
                db.blob_finish(sha256, None, now_ms).await?;
                return Ok(ChunkOutcome::HashMismatch);
            }
            let size = bytes.len() as u64;
            store.put(sha256, bytes).await?;
            db.blob_finish(sha256, Some(size), now_ms).await?;
            Ok(ChunkOutcome::Held {
                held_bytes: size,
                complete: true,
            })
        }
    }
}
