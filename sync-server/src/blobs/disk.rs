//! Blobs as files under `<data>/blobs/ab/cd/<sha256>`, written to a temporary file and
//! renamed into place so a reader never sees half a blob. Names are checked to be
//! 64 hex digits before they touch the file system.

use super::BlobStore;
use crate::error::StoreError;
use async_trait::async_trait;
use std::path::PathBuf;
use sync_core::wire::is_blob_name;

/// The on-disk blob store.
pub struct DiskBlobStore {
    root: PathBuf,
}

impl DiskBlobStore {
    pub fn new(root: PathBuf) -> Result<DiskBlobStore, StoreError> {
        std::fs::create_dir_all(&root)?;
        Ok(DiskBlobStore { root })
    }

    fn path(&self, sha256: &str) -> Result<PathBuf, StoreError> {
        if !is_blob_name(sha256) {
            return Err(StoreError::Invalid("blob name is not a sha256".into()));
        }
        Ok(self
            .root
            .join(&sha256[..2])
            .join(&sha256[2..4])
            .join(sha256))
    }
}

#[async_trait]
impl BlobStore for DiskBlobStore {
    async fn put(&self, sha256: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path(sha256)?;
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if path.exists() {
                return Ok(());
            }
            let dir = path.parent().expect("blob path has a parent");
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(
                ".{}.tmp-{}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("blob"),
                uuid::Uuid::now_v7()
            ));
            std::fs::write(&tmp, &bytes)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Blob(e.to_string()))?
    }

    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(sha256)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
