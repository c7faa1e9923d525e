//! Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, moto in the tests), so
//! several server processes share them.
//!
//! The client is the `object_store` crate's (`AmazonS3`: Signature Version 4,
//! retries with back-off, multipart where it matters, S3-compatible endpoints, on
//! reqwest), configured here: path-style requests to the configured endpoint, the
//! region requests are signed for, static credentials, three attempts per request
//! (connection failures and 5xx), bounded timeouts, no redirects followed with the
//! credentials. This module does only what the [`BlobStore`] needs and turns the
//! crate's errors into plain [`S3Error`]s.
//!
//! Objects are content-addressed: `blobs/<first two hex digits>/<sha256>`. A put is
//! idempotent (a name always carries the same bytes; the bytes are checked against the
//! name before they are sent) and a get verifies the bytes against the name, so a
//! damaged object is reported, never served.
//!
//! The bucket must already exist: the server does not create it, so that a typo in
//! `--blobs` fails at start instead of silently opening a second, empty blob store. The
//! access key needs `s3:GetObject` and `s3:PutObject` on the bucket's keys and
//! `s3:ListBucket` on the bucket (the start-up check lists it; without it S3 answers a
//! missing object with 403, not 404).
//!
//! The secret key is kept in a [`Secret`], which prints as `<redacted>`; it never goes
//! into a URL, a log line or an error.

use super::{BlobStore, MAX_BLOB_BYTES};
use crate::error::StoreError;
use async_trait::async_trait;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStoreExt, PutPayload, RetryConfig};
use sha2::{Digest, Sha256};
use std::time::Duration;
use sync_core::wire::is_blob_name;

/// How long to wait for a TCP (and TLS) connection to the object store.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take in all (a 10 MB blob over a slow link).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries after the first attempt (connection failures and 5xx answers).
const RETRIES: usize = 2;
/// How long retrying one request may take in all.
const RETRY_TIMEOUT: Duration = Duration::from_secs(20);

/// A string that never prints: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for the client's signer only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the bucket is and the credentials to sign for it.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// `http(s)://host[:port]` of the S3-compatible service (no path).
    pub endpoint: String,
    /// The bucket (3–63 of `a-z 0-9 . -`).
    pub bucket: String,
    /// The region requests are signed for (`us-east-1` for most S3-compatible servers).
    pub region: String,
    /// The access key id (not secret; it is shown in errors).
    pub access_key: String,
    /// The secret access key.
    pub secret_key: Secret,
}

/// What went wrong talking to the object store. Messages never carry the secret key.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The endpoint is not an `http(s)://host[:port]` URL.
    #[error("s3 endpoint {0:?} is not an http(s)://host[:port] URL (no path, query or user)")]
    BadEndpoint(String),
    /// The bucket name breaks S3's naming rules.
    #[error("s3 bucket name {0:?} is not valid (3 to 63 of a-z 0-9 . -)")]
    BadBucket(String),
    /// A blob name that is not 64 lowercase hex digits.
    #[error("blob name is not a sha256")]
    BadName,
    /// The bytes handed to `put` do not hash to their name.
    #[error("blob bytes do not hash to the blob's name; not stored")]
    BytesDoNotMatchName,
    /// The client could not be built from the configuration.
    #[error("s3 client: {0}")]
    Client(String),
    /// No answer (connection refused, DNS, timeout, reset), or only failures after
    /// the retries.
    #[error("cannot reach the object store at {endpoint}: {reason}")]
    Unreachable {
        /// The configured endpoint.
        endpoint: String,
        /// The transport error and its causes.
        reason: String,
    },
    /// 401/403: the access key is unknown, the signature (secret key) is wrong, or the
    /// key lacks a permission.
    #[error("the object store at {endpoint} refused access key {access_key} ({code}); check TONGHU_S3_ACCESS_KEY / TONGHU_S3_SECRET_KEY / TONGHU_S3_REGION and the key's permissions (s3:GetObject, s3:PutObject, s3:ListBucket)")]
    Refused {
        /// The configured endpoint.
        endpoint: String,
        /// The access key id used.
        access_key: String,
        /// S3's error code (`SignatureDoesNotMatch`, `InvalidAccessKeyId`, `AccessDenied`…).
        code: String,
    },
    /// The bucket does not exist.
    #[error("bucket {bucket:?} does not exist at {endpoint}; create it first (for example `aws s3 mb s3://{bucket} --endpoint-url {endpoint}`)")]
    NoSuchBucket {
        /// The configured bucket.
        bucket: String,
        /// The configured endpoint.
        endpoint: String,
    },
    /// Any other unexpected answer.
    #[error("the object store answered {op}: {reason}")]
    Status {
        /// The operation, e.g. `PUT object`.
        op: &'static str,
        /// The client's error and its causes.
        reason: String,
    },
    /// A stored object is larger than any blob may be.
    #[error("stored object for blob {0} is larger than a blob may be")]
    TooLarge(String),
    /// A stored object does not hash to its name.
    #[error("stored object for blob {0} does not hash to its name")]
    Corrupt(String),
}

impl From<S3Error> for StoreError {
    fn from(e: S3Error) -> StoreError {
        match e {
            S3Error::BadName | S3Error::BytesDoNotMatchName => StoreError::Invalid(e.to_string()),
            S3Error::TooLarge(_) | S3Error::Corrupt(_) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Blob(e.to_string()),
        }
    }
}

/// The object key of a blob: `blobs/<first two hex digits>/<sha256>`.
pub fn object_key(sha256: &str) -> Result<String, S3Error> {
    if !is_blob_name(sha256) {
        return Err(S3Error::BadName);
    }
    Ok(format!("blobs/{}/{sha256}", &sha256[..2]))
}

fn valid_bucket(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
        && bucket
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && bucket
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

/// The text of `<Code>` in an S3 XML error body (as the client quotes it), if any.
fn error_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    let code: String = body[start..start + len]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-' || *c == '_')
        .take(64)
        .collect();
    (!code.is_empty()).then_some(code)
}

/// An error and its causes, on one line, cut to a readable length.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text.chars().take(1000).collect()
}

/// Blobs in one bucket of an S3-compatible service.
pub struct S3BlobStore {
    client: AmazonS3,
    endpoint: String,
    bucket: String,
    access_key: String,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// A store for `config`, without contacting the service (see [`S3BlobStore::connect`]).
    pub fn new(config: S3Config) -> Result<S3BlobStore, S3Error> {
        let endpoint = config.endpoint.trim().trim_end_matches('/').to_string();
        let bad = || S3Error::BadEndpoint(config.endpoint.clone());
        let url = reqwest013::Url::parse(config.endpoint.trim()).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.host_str().is_none()
        {
            return Err(bad());
        }
        if !valid_bucket(&config.bucket) {
            return Err(S3Error::BadBucket(config.bucket.clone()));
        }
        // TLS for https endpoints: rustls with ring (the one crypto provider built in).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = ClientOptions::new()
            .with_allow_http(url.scheme() == "http")
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        let retry = RetryConfig {
            max_retries: RETRIES,
            retry_timeout: RETRY_TIMEOUT,
            ..RetryConfig::default()
        };
        let client = AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key)
            .with_secret_access_key(config.secret_key.expose())
            .with_virtual_hosted_style_request(false)
            .with_client_options(options)
            .with_retry(retry)
            .build()
            .map_err(|e| S3Error::Client(chain(&e)))?;
        Ok(S3BlobStore {
            client,
            endpoint,
            bucket: config.bucket,
            access_key: config.access_key,
        })
    }

    /// A store for `config`, after checking that the service answers, accepts the
    /// credentials and holds the bucket: a misconfiguration fails at start with a
    /// clear error, not at the first photo.
    pub async fn connect(config: S3Config) -> Result<S3BlobStore, S3Error> {
        let store = S3BlobStore::new(config)?;
        store.check_bucket().await?;
        Ok(store)
    }

    /// The bucket this store writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The error for a failed `op`.
    fn failure(&self, op: &'static str, e: object_store::Error) -> S3Error {
        let reason = chain(&e);
        match e {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => S3Error::Refused {
                endpoint: self.endpoint.clone(),
                access_key: self.access_key.clone(),
                code: error_code(&reason).unwrap_or_else(|| "access denied".into()),
            },
            object_store::Error::NotFound { .. } if reason.contains("NoSuchBucket") => {
                S3Error::NoSuchBucket {
                    bucket: self.bucket.clone(),
                    endpoint: self.endpoint.clone(),
                }
            }
            object_store::Error::Generic { .. } => S3Error::Unreachable {
                endpoint: self.endpoint.clone(),
                reason,
            },
            _ => S3Error::Status { op, reason },
        }
    }

    /// Checks that the bucket exists and the credentials may use it: reads a key no blob
    /// has (`blobs/.check`); S3 answers `NoSuchKey` for a bucket that exists and
    /// `NoSuchBucket` otherwise.
    pub async fn check_bucket(&self) -> Result<(), S3Error> {
        match self.client.get(&Path::from("blobs/.check")).await {
            Ok(_) => Ok(()),
            Err(e @ object_store::Error::NotFound { .. }) => {
                let text = chain(&e);
                if text.contains("NoSuchBucket") {
                    Err(self.failure("GET bucket", e))
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(self.failure("GET bucket", e)),
        }
    }

    async fn put_object(&self, sha256: &str, bytes: Vec<u8>) -> Result<(), S3Error> {
        let key = object_key(sha256)?;
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(S3Error::BytesDoNotMatchName);
        }
        self.client
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.failure("PUT object", e))
    }

    async fn get_object(&self, sha256: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let key = object_key(sha256)?;
        let got = match self.client.get(&Path::from(key)).await {
            Ok(g) => g,
            Err(e @ object_store::Error::NotFound { .. }) => {
                return match self.failure("GET object", e) {
                    e @ S3Error::NoSuchBucket { .. } => Err(e),
                    _ => Ok(None),
                }
            }
            Err(e) => return Err(self.failure("GET object", e)),
        };
        if got.meta.size > MAX_BLOB_BYTES {
            return Err(S3Error::TooLarge(sha256.to_string()));
        }
        let bytes = got
            .bytes()
            .await
            .map_err(|e| self.failure("GET object", e))?;
        if bytes.len() as u64 > MAX_BLOB_BYTES {
            return Err(S3Error::TooLarge(sha256.to_string()));
        }
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(S3Error::Corrupt(sha256.to_string()));
        }
        Ok(Some(bytes.to_vec()))
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, sha256: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        Ok(self.put_object(sha256, bytes).await?)
    }

    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get_object(sha256).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_content_addressed_and_names_checked() {
        let sha = "ab".repeat(32);
        assert_eq!(object_key(&sha).unwrap(), format!("blobs/ab/{sha}"));
        assert!(object_key("../etc/passwd").is_err());
        assert!(object_key(&sha.to_uppercase()).is_err());
    }

    fn config(endpoint: &str, bucket: &str) -> S3Config {
        S3Config {
            endpoint: endpoint.into(),
            bucket: bucket.into(),
            region: "us-east-1".into(),
            access_key: "AK".into(),
            secret_key: Secret::new("SK-very-secret"),
        }
    }

    #[test]
    fn endpoints_and_buckets_are_checked() {
        for bad in [
            "ftp://x",
            "http://x/path",
            "http://user:pw@x",
            "http://x?q=1",
            "not a url",
        ] {
            assert!(
                matches!(
                    S3BlobStore::new(config(bad, "abc")),
                    Err(S3Error::BadEndpoint(_))
                ),
                "{bad}"
            );
        }
        for bad in ["ab", "Upper", "-dash", "dash-", "under_score"] {
            assert!(
                matches!(
                    S3BlobStore::new(config("http://127.0.0.1:9", bad)),
                    Err(S3Error::BadBucket(_))
                ),
                "{bad}"
            );
        }
        assert!(S3BlobStore::new(config("https://s3.example.cn", "tonghu-blobs")).is_ok());
    }

    #[test]
    fn the_secret_never_prints() {
        let store = S3BlobStore::new(config("http://127.0.0.1:9", "abc")).unwrap();
        let text = format!("{store:?} {:?}", config("http://x", "abc"));
        assert!(!text.contains("SK-very-secret"), "{text}");
    }

    #[test]
    fn error_codes_are_read_from_s3_xml() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("NoSuchKey"));
        assert_eq!(error_code("<html>oops</html>"), None);
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_a_clear_error() {
        // A port nothing listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = S3BlobStore::connect(config(&format!("http://127.0.0.1:{port}"), "abc"))
            .await
            .unwrap_err();
        assert!(matches!(err, S3Error::Unreachable { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("cannot reach the object store"), "{text}");
        assert!(!text.contains("SK-very-secret"));
    }
}
