//! Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, moto in the tests), so
//! several server processes share them.
//!
//! A deliberately small client over the server's own `reqwest`: path-style requests
//! (`<endpoint>/<bucket>/<key>`), signed with AWS Signature Version 4 (HMAC-SHA256,
//! `Authorization` header, payload hash signed). It does only what the [`BlobStore`]
//! needs: `PUT` object, `GET` object, `HEAD` bucket (checked once at start) and `PUT`
//! bucket ([`S3BlobStore::create_bucket`], for tests and first-time setup).
//!
//! Objects are content-addressed: `blobs/<first two hex digits>/<sha256>`. A put is
//! idempotent (a name always carries the same bytes; the bytes are checked against the
//! name before they are sent) and a get verifies the bytes against the name, so a
//! damaged object is reported, never served. Requests are retried (three attempts in
//! all) on connection failures and 5xx answers; both operations are idempotent.
//!
//! The bucket must already exist: the server does not create it, so that a typo in
//! `--blobs` fails at start instead of silently opening a second, empty blob store. The
//! access key needs `s3:GetObject` and `s3:PutObject` on the bucket's keys and
//! `s3:ListBucket` on the bucket (without it S3 answers a missing object with 403, not
//! 404, and the start-up check fails).
//!
//! The secret key is kept in a [`Secret`], which prints as `<redacted>`; it never goes
//! into a URL, a log line or an error.

use super::{BlobStore, MAX_BLOB_BYTES};
use crate::error::StoreError;
use async_trait::async_trait;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use std::time::Duration;
use sync_core::wire::is_blob_name;

type HmacSha256 = Hmac<Sha256>;

/// Hex SHA-256 of an empty payload.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How long to wait for a TCP (and TLS) connection to the object store.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take in all (a 10 MB blob over a slow link).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts per operation (connection failures and 5xx answers are retried).
const ATTEMPTS: u32 = 3;

/// A string that never prints: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for signing only.
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
    /// The HTTP client could not be built (TLS set-up).
    #[error("s3 http client: {0}")]
    Client(String),
    /// Signing failed (cannot happen with HMAC-SHA256; kept to avoid a panic path).
    #[error("s3 request signing: {0}")]
    Signing(String),
    /// No answer: connection refused, DNS, timeout, reset.
    #[error("cannot reach the object store at {endpoint}: {reason}")]
    Unreachable {
        /// The configured endpoint.
        endpoint: String,
        /// The transport error and its causes.
        reason: String,
    },
    /// 403: the access key is unknown, the signature (secret key) is wrong, or the key
    /// lacks a permission.
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
    #[error("the object store answered {op} with HTTP {status} ({code})")]
    Status {
        /// The operation, e.g. `PUT object`.
        op: &'static str,
        /// The HTTP status.
        status: u16,
        /// S3's error code, or the status text.
        code: String,
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

// ---------------------------------------------------------------------------------------
// Signature Version 4
// ---------------------------------------------------------------------------------------

/// Percent-encodes `s` the way SigV4 wants: every byte but `A-Z a-z 0-9 - . _ ~` as
/// `%XX` (upper-case hex); `/` too unless `keep_slash`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One request as SigV4 sees it.
#[derive(Debug, Clone, Copy)]
pub struct SigningRequest<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The path, already URI-encoded (see [`uri_encode`]); S3 does not normalise it.
    pub path: &'a str,
    /// Query parameters, not encoded, in any order.
    pub query: &'a [(&'a str, &'a str)],
    /// The headers to sign (any case, any order); must include `host` and `x-amz-date`.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the payload.
    pub payload_sha256: &'a str,
}

impl SigningRequest<'_> {
    /// The canonical request and its signed-headers list (`host;x-amz-date`).
    pub fn canonical_request(&self) -> (String, String) {
        let mut query: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        query.sort();
        let query = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.trim().to_ascii_lowercase(),
                    v.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        // Repeated names become one line, values joined by commas in their given order.
        let mut merged: Vec<(String, String)> = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            match merged.last_mut() {
                Some((last, values)) if *last == name => {
                    values.push(',');
                    values.push_str(&value);
                }
                _ => merged.push((name, value)),
            }
        }
        let canonical_headers: String = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let signed_headers = merged
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let path = if self.path.is_empty() { "/" } else { self.path };
        (
            format!(
                "{}\n{}\n{}\n{}\n{}\n{}",
                self.method, path, query, canonical_headers, signed_headers, self.payload_sha256
            ),
            signed_headers,
        )
    }
}

/// Signs requests for one access key, region and service (`s3`).
#[derive(Clone, Debug)]
pub struct Signer {
    access_key: String,
    secret_key: Secret,
    region: String,
    service: String,
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<Vec<u8>, S3Error> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|e| S3Error::Signing(e.to_string()))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl Signer {
    /// A signer for `service` (`s3`) in `region`.
    pub fn new(access_key: &str, secret_key: Secret, region: &str, service: &str) -> Signer {
        Signer {
            access_key: access_key.to_string(),
            secret_key,
            region: region.to_string(),
            service: service.to_string(),
        }
    }

    /// The credential scope: `<yyyymmdd>/<region>/<service>/aws4_request`.
    pub fn scope(&self, amz_date: &str) -> String {
        let day = amz_date.get(..8).unwrap_or(amz_date);
        format!("{day}/{}/{}/aws4_request", self.region, self.service)
    }

    /// The string to sign for a canonical request made at `amz_date` (`yyyymmddThhmmssZ`).
    pub fn string_to_sign(&self, amz_date: &str, canonical_request: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
            self.scope(amz_date),
            sha256_hex(canonical_request.as_bytes())
        )
    }

    /// The hex signature of `string_to_sign`, with the key derived for `amz_date`'s day.
    pub fn signature(&self, amz_date: &str, string_to_sign: &str) -> Result<String, S3Error> {
        let day = amz_date.get(..8).unwrap_or(amz_date);
        let k_secret = format!("AWS4{}", self.secret_key.expose());
        let k_date = hmac_sha256(k_secret.as_bytes(), day.as_bytes())?;
        let k_region = hmac_sha256(&k_date, self.region.as_bytes())?;
        let k_service = hmac_sha256(&k_region, self.service.as_bytes())?;
        let k_signing = hmac_sha256(&k_service, b"aws4_request")?;
        Ok(hex::encode(hmac_sha256(
            &k_signing,
            string_to_sign.as_bytes(),
        )?))
    }

    /// The `Authorization` header value for `request` made at `amz_date`.
    pub fn authorization(
        &self,
        request: &SigningRequest<'_>,
        amz_date: &str,
    ) -> Result<String, S3Error> {
        let (canonical, signed_headers) = request.canonical_request();
        let signature = self.signature(amz_date, &self.string_to_sign(amz_date, &canonical))?;
        Ok(format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key,
            self.scope(amz_date)
        ))
    }
}

// ---------------------------------------------------------------------------------------
// The blob store
// ---------------------------------------------------------------------------------------

/// The object key of a blob: `blobs/ab/abcdef…`.
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

/// The text of `<Code>` in an S3 XML error body, if any.
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

/// An error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Blobs in one bucket of an S3-compatible service.
pub struct S3BlobStore {
    http: reqwest::Client,
    /// `scheme://host[:port]`, no trailing slash.
    base: String,
    /// The `Host` header: `host[:port]` (the port only when not the scheme's default).
    host: String,
    endpoint: String,
    bucket: String,
    signer: Signer,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("signer", &self.signer)
            .finish()
    }
}

impl S3BlobStore {
    /// A store for `config`, without contacting the service (see [`S3BlobStore::connect`]).
    pub fn new(config: S3Config) -> Result<S3BlobStore, S3Error> {
        let bad = || S3Error::BadEndpoint(config.endpoint.clone());
        let url = reqwest::Url::parse(config.endpoint.trim()).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(bad());
        }
        let host_name = url.host_str().ok_or_else(bad)?;
        let host = match url.port() {
            Some(port) => format!("{host_name}:{port}"),
            None => host_name.to_string(),
        };
        if !valid_bucket(&config.bucket) {
            return Err(S3Error::BadBucket(config.bucket.clone()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A signed request must not be replayed elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| S3Error::Client(chain(&e)))?;
        Ok(S3BlobStore {
            http,
            base: format!("{}://{host}", url.scheme()),
            host,
            endpoint: config.endpoint.trim().trim_end_matches('/').to_string(),
            bucket: config.bucket.clone(),
            signer: Signer::new(&config.access_key, config.secret_key, &config.region, "s3"),
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

    fn bucket_path(&self) -> String {
        format!("/{}", uri_encode(&self.bucket, false))
    }

    fn object_path(&self, key: &str) -> String {
        format!("{}/{}", self.bucket_path(), uri_encode(key, true))
    }

    /// Sends one signed request, retrying connection failures and 5xx answers.
    async fn send(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        payload_sha256: &str,
    ) -> Result<reqwest::Response, S3Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
            let headers = [
                ("host", self.host.as_str()),
                ("x-amz-content-sha256", payload_sha256),
                ("x-amz-date", amz_date.as_str()),
            ];
            let authorization = self.signer.authorization(
                &SigningRequest {
                    method: method.as_str(),
                    path,
                    query: &[],
                    headers: &headers,
                    payload_sha256,
                },
                &amz_date,
            )?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .header("authorization", authorization);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let last = attempt >= ATTEMPTS;
            match request.send().await {
                Ok(res) if res.status().is_server_error() && !last => {
                    tracing::warn!(
                        op,
                        status = res.status().as_u16(),
                        attempt,
                        "object store answered 5xx; retrying"
                    );
                }
                Ok(res) => return Ok(res),
                Err(e) if !last => {
                    tracing::warn!(op, error = %chain(&e), attempt, "object store unreachable; retrying");
                }
                Err(e) => {
                    return Err(S3Error::Unreachable {
                        endpoint: self.endpoint.clone(),
                        reason: chain(&e),
                    })
                }
            }
            tokio::time::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1))).await;
        }
    }

    /// The error for an unexpected answer to `op` (reads a little of its body for the code).
    async fn failure(&self, op: &'static str, res: reqwest::Response) -> S3Error {
        let status = res.status();
        let region = res
            .headers()
            .get("x-amz-bucket-region")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = res.text().await.unwrap_or_default();
        let mut code = error_code(&body)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no code").to_string());
        if let Some(region) = region {
            code.push_str(&format!("; the bucket is in region {region}"));
        }
        match status {
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => S3Error::Refused {
                endpoint: self.endpoint.clone(),
                access_key: self.signer.access_key.clone(),
                code,
            },
            StatusCode::NOT_FOUND if code.starts_with("NoSuchBucket") || op == "HEAD bucket" => {
                S3Error::NoSuchBucket {
                    bucket: self.bucket.clone(),
                    endpoint: self.endpoint.clone(),
                }
            }
            _ => S3Error::Status {
                op,
                status: status.as_u16(),
                code,
            },
        }
    }

    /// Checks that the bucket exists and the credentials may use it (`HEAD` bucket).
    pub async fn check_bucket(&self) -> Result<(), S3Error> {
        let op = "HEAD bucket";
        let res = self
            .send(op, Method::HEAD, &self.bucket_path(), None, EMPTY_SHA256)
            .await?;
        if res.status().is_success() {
            return Ok(());
        }
        Err(self.failure(op, res).await)
    }

    /// Creates the bucket (in the configured region); a bucket this key already owns
    /// is fine. The server never calls this itself; tests and setup scripts do.
    pub async fn create_bucket(&self) -> Result<(), S3Error> {
        let op = "PUT bucket";
        let body = if self.signer.region == "us-east-1" {
            Bytes::new()
        } else {
            Bytes::from(format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.signer.region
            ))
        };
        let hash = sha256_hex(&body);
        let res = self
            .send(op, Method::PUT, &self.bucket_path(), Some(body), &hash)
            .await?;
        if res.status().is_success() {
            return Ok(());
        }
        match self.failure(op, res).await {
            S3Error::Status {
                status: 409, code, ..
            } if code.starts_with("BucketAlreadyOwnedByYou") => Ok(()),
            e => Err(e),
        }
    }

    async fn put_object(&self, sha256: &str, bytes: Vec<u8>) -> Result<(), S3Error> {
        let key = object_key(sha256)?;
        if sha256_hex(&bytes) != sha256 {
            return Err(S3Error::BytesDoNotMatchName);
        }
        let op = "PUT object";
        let res = self
            .send(
                op,
                Method::PUT,
                &self.object_path(&key),
                Some(Bytes::from(bytes)),
                sha256,
            )
            .await?;
        if res.status().is_success() {
            return Ok(());
        }
        Err(self.failure(op, res).await)
    }

    async fn get_object(&self, sha256: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let key = object_key(sha256)?;
        let op = "GET object";
        let mut res = self
            .send(op, Method::GET, &self.object_path(&key), None, EMPTY_SHA256)
            .await?;
        match res.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return match self.failure(op, res).await {
                    e @ S3Error::NoSuchBucket { .. } => Err(e),
                    _ => Ok(None),
                }
            }
            _ => return Err(self.failure(op, res).await),
        }
        if res.content_length().is_some_and(|n| n > MAX_BLOB_BYTES) {
            return Err(S3Error::TooLarge(sha256.to_string()));
        }
        let mut bytes = Vec::with_capacity(res.content_length().unwrap_or(0) as usize);
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > MAX_BLOB_BYTES {
                        return Err(S3Error::TooLarge(sha256.to_string()));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(S3Error::Unreachable {
                        endpoint: self.endpoint.clone(),
                        reason: chain(&e),
                    })
                }
            }
        }
        if sha256_hex(&bytes) != sha256 {
            return Err(S3Error::Corrupt(sha256.to_string()));
        }
        Ok(Some(bytes))
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

    // The AWS Signature Version 4 test suite (aws-sig-v4-test-suite, as kept in
    // awslabs/aws-c-auth): credentials, date, region and service of every case.
    const SUITE_KEY: &str = "AKIDEXAMPLE";
    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const SUITE_DATE: &str = "20150830T123600Z";

    fn suite_signer() -> Signer {
        Signer::new(SUITE_KEY, Secret::new(SUITE_SECRET), "us-east-1", "service")
    }

    #[test]
    fn get_vanilla_matches_the_aws_test_suite() {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", SUITE_DATE),
        ];
        let req = SigningRequest {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            payload_sha256: EMPTY_SHA256,
        };
        let (creq, signed) = req.canonical_request();
        assert_eq!(
            creq,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(signed, "host;x-amz-date");
        let signer = suite_signer();
        assert_eq!(
            signer.string_to_sign(SUITE_DATE, &creq),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            signer.authorization(&req, SUITE_DATE).unwrap(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case_matches_the_aws_test_suite() {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", SUITE_DATE),
        ];
        let req = SigningRequest {
            method: "GET",
            path: "/",
            query: &[("Param2", "value2"), ("Param1", "value1")],
            headers: &headers,
            payload_sha256: EMPTY_SHA256,
        };
        assert!(req
            .canonical_request()
            .0
            .starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
        assert!(suite_signer()
            .authorization(&req, SUITE_DATE)
            .unwrap()
            .ends_with(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            ));
    }

    // The S3 API reference's header-signing examples ("Signature Calculations for the
    // Authorization Header: Transferring Payload in a Single Chunk").
    const S3_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const S3_DATE: &str = "20130524T000000Z";
    const S3_HOST: &str = "examplebucket.s3.amazonaws.com";

    fn s3_signer() -> Signer {
        Signer::new(S3_KEY, Secret::new(S3_SECRET), "us-east-1", "s3")
    }

    #[test]
    fn s3_get_object_example_matches_the_s3_documentation() {
        let headers = [
            ("Host", S3_HOST),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", S3_DATE),
        ];
        let req = SigningRequest {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_sha256: EMPTY_SHA256,
        };
        let (creq, _) = req.canonical_request();
        assert_eq!(
            sha256_hex(creq.as_bytes()),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            s3_signer().authorization(&req, S3_DATE).unwrap(),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn s3_put_object_example_matches_the_s3_documentation() {
        let payload = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(
            payload,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let path = uri_encode("/test$file.text", true);
        assert_eq!(path, "/test%24file.text");
        let headers = [
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("Host", S3_HOST),
            ("x-amz-content-sha256", payload.as_str()),
            ("x-amz-date", S3_DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ];
        let req = SigningRequest {
            method: "PUT",
            path: &path,
            query: &[],
            headers: &headers,
            payload_sha256: &payload,
        };
        let (creq, _) = req.canonical_request();
        assert_eq!(
            sha256_hex(creq.as_bytes()),
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"
        );
        assert!(s3_signer().authorization(&req, S3_DATE).unwrap().ends_with(
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ));
    }

    #[test]
    fn header_values_are_trimmed_and_repeated_names_merged() {
        let headers = [
            ("My-Header1", "  a   b  "),
            ("host", "h"),
            ("my-header1", "c"),
        ];
        let req = SigningRequest {
            method: "GET",
            path: "",
            query: &[],
            headers: &headers,
            payload_sha256: EMPTY_SHA256,
        };
        let (creq, signed) = req.canonical_request();
        assert_eq!(signed, "host;my-header1");
        assert!(
            creq.starts_with("GET\n/\n\nhost:h\nmy-header1:a b,c\n\n"),
            "{creq}"
        );
    }

    #[test]
    fn keys_are_content_addressed_and_names_checked() {
        let sha = sha256_hex(b"x");
        assert_eq!(
            object_key(&sha).unwrap(),
            format!("blobs/{}/{sha}", &sha[..2])
        );
        assert!(matches!(object_key("../etc"), Err(S3Error::BadName)));
        assert!(matches!(
            object_key(&sha.to_uppercase()),
            Err(S3Error::BadName)
        ));
        assert_eq!(uri_encode("a b/é~", false), "a%20b%2F%C3%A9~");
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
        let s = S3BlobStore::new(config("http://127.0.0.1:9000/", "tonghu-blobs")).unwrap();
        assert_eq!(
            (s.base.as_str(), s.host.as_str()),
            ("http://127.0.0.1:9000", "127.0.0.1:9000")
        );
        assert_eq!(s.object_path("blobs/ab/abc"), "/tonghu-blobs/blobs/ab/abc");
        let s = S3BlobStore::new(config("https://s3.example.cn", "b.c-d")).unwrap();
        assert_eq!(s.host, "s3.example.cn");
        let s = S3BlobStore::new(config("https://s3.example.cn:443", "abc")).unwrap();
        assert_eq!(s.host, "s3.example.cn", "the default port is not in Host");
        for bad in [
            "s3.example.cn",
            "ftp://s3.example.cn",
            "http://s3.example.cn/prefix",
            "http://s3.example.cn/?x=1",
            "http://user:pw@s3.example.cn",
        ] {
            assert!(
                matches!(
                    S3BlobStore::new(config(bad, "abc")),
                    Err(S3Error::BadEndpoint(_))
                ),
                "{bad}"
            );
        }
        for bad in ["ab", "Upper", "a/b", "-abc", "abc-", "a_b"] {
            assert!(
                matches!(
                    S3BlobStore::new(config("http://x", bad)),
                    Err(S3Error::BadBucket(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_secret_never_prints() {
        let c = config("http://127.0.0.1:9000", "abc");
        let s = S3BlobStore::new(c.clone()).unwrap();
        for text in [format!("{c:?}"), format!("{s:?}")] {
            assert!(!text.contains("SK-very-secret"), "{text}");
            assert!(text.contains("<redacted>") && text.contains("AK"), "{text}");
        }
    }

    #[test]
    fn error_codes_are_read_from_s3_xml() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("NoSuchKey"));
        assert_eq!(error_code("<html>oops</html>"), None);
        assert_eq!(
            error_code("<Code><script></Code>").as_deref(),
            Some("script")
        );
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
