//! Blobs (photos, signature images), content-addressed by lowercase hex SHA-256.
//!
//! Uploads are resumable: chunks are appended at the offset the server holds and kept in
//! the database (so any server process can continue an upload); when the last byte
//! arrives the whole blob is hashed, and only a verified blob goes into the
//! [`BlobStore`] (disk by default, S3-compatible for several processes). The chunks are
//! dropped only once the blob is in the store: if that write fails, the upload stays
//! held in full and is finished by the next chunk of it that arrives (the last one
//! sent again, or the whole) or by the next status request.
//!
//! Proof of possession: chunks are kept per uploading device, and a blob becomes
//! readable in a village only when a device that may write there sent every byte itself
//! and they hash to the name ([`crate::store::BlobUploads`]). A device that names
//! another village's photo hash in a row of its own cannot read that photo: it would
//! have to upload the photo first.

pub mod disk;
pub mod s3;

use crate::error::StoreError;
use crate::store::{AppendOutcome, BlobState, Database, Uploader};
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

/// Appends a chunk of `uploader`'s upload and, once every byte is held, verifies and
/// stores the blob and proves it in `uploader.scopes`.
pub async fn append_chunk(
    db: &dyn Database,
    store: &dyn BlobStore,
    sha256: &str,
    uploader: Uploader<'_>,
    offset: u64,
    total: u64,
    chunk: Vec<u8>,
    now_ms: i64,
) -> Result<ChunkOutcome, StoreError> {
    match db
        .blob_append(sha256, uploader, offset, total, chunk)
        .await?
    {
        AppendOutcome::Appended { held_bytes } => Ok(ChunkOutcome::Held {
            held_bytes,
            complete: false,
        }),
        AppendOutcome::Conflict { held_bytes } => Ok(ChunkOutcome::Conflict { held_bytes }),
        AppendOutcome::AlreadyComplete { size } => Ok(ChunkOutcome::Held {
            held_bytes: size,
            complete: true,
        }),
        AppendOutcome::HeldInFull => finish(db, store, sha256, uploader, now_ms).await,
    }
}

/// How much of a blob `uploader` holds. An upload of theirs held in full whose
/// blob-store write failed is finished here first, so a device that asks before it
/// sends anything more sees the blob complete (or, if the bytes were wrong, the upload
/// gone).
pub async fn status(
    db: &dyn Database,
    store: &dyn BlobStore,
    sha256: &str,
    uploader: Uploader<'_>,
    now_ms: i64,
) -> Result<BlobState, StoreError> {
    let state = db.blob_state(sha256, uploader).await?;
    if !state.held_in_full() {
        return Ok(state);
    }
    finish(db, store, sha256, uploader, now_ms).await?;
    db.blob_state(sha256, uploader).await
}

/// Verifies an upload held in full and moves it to the blob store (a put is
/// idempotent: the blob may be there already from another village's upload), proving
/// it in the uploader's villages; on a hash mismatch discards it. If the store write
/// fails the chunks stay, for a retry.
async fn finish(
    db: &dyn Database,
    store: &dyn BlobStore,
    sha256: &str,
    uploader: Uploader<'_>,
    now_ms: i64,
) -> Result<ChunkOutcome, StoreError> {
    let Some(bytes) = db.blob_held(sha256, uploader).await? else {
        // Another request finished (or discarded) it meanwhile.
        let s = db.blob_state(sha256, uploader).await?;
        return Ok(ChunkOutcome::Held {
            held_bytes: s.held_bytes,
            complete: s.complete,
        });
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    if digest != sha256 {
        db.blob_finish(sha256, uploader, None, now_ms).await?;
        return Ok(ChunkOutcome::HashMismatch);
    }
    let size = bytes.len() as u64;
    store.put(sha256, bytes).await?;
    db.blob_finish(sha256, uploader, Some(size), now_ms).await?;
    Ok(ChunkOutcome::Held {
        held_bytes: size,
        complete: true,
    })
}
