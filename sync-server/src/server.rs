//! Starting a server: open the storage named by the settings (migrating it), pick the
//! blob store (an S3 bucket is checked for reachability, credentials and existence
//! before the server starts), and serve the router on a listener.

use crate::blobs::s3::{S3BlobStore, S3Config, Secret};
use crate::blobs::{disk::DiskBlobStore, BlobStore};
use crate::error::StoreError;
use crate::handlers::AppState;
use crate::settings::{BlobSettings, Settings};
use std::sync::Arc;

/// Opens storage and blobs for `settings`.
pub async fn build_state(settings: Settings) -> Result<AppState, StoreError> {
    let db = crate::store::open(settings.database_url.as_deref(), &settings.data_dir).await?;
    let blobs: Arc<dyn BlobStore> = match &settings.blobs {
        BlobSettings::Disk => Arc::new(DiskBlobStore::new(settings.data_dir.join("blobs"))?),
        BlobSettings::S3 {
            bucket,
            endpoint,
            region,
            access_key,
            secret_key,
        } => Arc::new(
            S3BlobStore::connect(S3Config {
                endpoint: endpoint.clone(),
                bucket: bucket.clone(),
                region: region.clone(),
                access_key: access_key.clone(),
                secret_key: Secret::new(secret_key.clone()),
            })
            .await?,
        ),
    };
    let discovery = Arc::new(crate::discovery::Discovery::new(settings.max_ahead_ms));
    Ok(AppState {
        db,
        blobs,
        settings: Arc::new(settings),
        discovery,
    })
}

/// Serves `state` on `listener` until the process ends.
pub async fn run(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, crate::router::router(state)).await
}
