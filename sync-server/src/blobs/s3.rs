//! S3-compatible blob store (filled in a later increment).
use super::BlobStore;
use crate::error::StoreError;
use async_trait::async_trait;
pub struct S3BlobStore;
impl S3BlobStore {
    pub fn new(
        _e: String,
        _b: String,
        _r: String,
        _a: String,
        _s: String,
    ) -> Result<S3BlobStore, StoreError> {
        Err(StoreError::Blob("s3 not yet built".into()))
    }
}
#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, _: &str, _: Vec<u8>) -> Result<(), StoreError> {
        todo!()
    }
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        todo!()
    }
}
