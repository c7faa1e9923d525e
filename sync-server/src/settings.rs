//! Server settings: from the command line, falling back to environment variables
//! (`TONGHU_LISTEN`, `TONGHU_DATA`, `TONGHU_DATABASE_URL`, `TONGHU_BLOBS`,
//! `TONGHU_S3_ENDPOINT`, `TONGHU_S3_REGION`, `TONGHU_S3_ACCESS_KEY`,
//! `TONGHU_S3_SECRET_KEY`, `TONGHU_MAX_AHEAD_MS`). Secrets (the database password, the
//! S3 secret key) are redacted in `Debug`, so settings can be logged.

use std::path::PathBuf;

/// Where blobs live.
#[derive(Clone, PartialEq, Eq)]
pub enum BlobSettings {
    /// Files under `<data>/blobs` (the embedded default).
    Disk,
    /// An S3-compatible bucket, shared by several server processes.
    S3 {
        bucket: String,
        endpoint: String,
        region: String,
        access_key: String,
        secret_key: String,
    },
}

impl std::fmt::Debug for BlobSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobSettings::Disk => f.write_str("Disk"),
            BlobSettings::S3 {
                bucket,
                endpoint,
                region,
                access_key,
                ..
            } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("endpoint", endpoint)
                .field("region", region)
                .field("access_key", access_key)
                .field("secret_key", &"<redacted>")
                .finish(),
        }
    }
}

/// Everything the server needs to start.
#[derive(Clone)]
pub struct Settings {
    pub listen: String,
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; `None` the SQLite file in `data_dir`.
    pub database_url: Option<String>,
    pub blobs: BlobSettings,
    /// How far ahead of the server clock a change's hlc may be.
    pub max_ahead_ms: u64,
    /// The newest app version this deployment offers, told to every phone in its pull
    /// answers (phones on an older one say an update is available). None: not said.
    pub latest_app_version: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8470".into(),
            data_dir: PathBuf::from("./tonghu-data"),
            database_url: None,
            blobs: BlobSettings::Disk,
            max_ahead_ms: sync_core::hlc::DEFAULT_MAX_AHEAD_MS,
            latest_app_version: None,
        }
    }
}

/// A database URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("blobs", &self.blobs)
            .field("max_ahead_ms", &self.max_ahead_ms)
            .field("latest_app_version", &self.latest_app_version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn debug_never_shows_passwords() {
        let s = Settings {
            database_url: Some("postgres://tonghu:s3cret@db:5432/tonghu".into()),
            blobs: BlobSettings::S3 {
                bucket: "b".into(),
                endpoint: "http://x".into(),
                region: "r".into(),
                access_key: "AK".into(),
                secret_key: "SK-secret".into(),
            },
            ..Settings::default()
        };
        let text = format!("{s:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("SK-secret"),
            "{text}"
        );
        assert!(text.contains("tonghu:***@db"));
    }
}
