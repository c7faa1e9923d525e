//! A local S3-compatible server for the object-storage tests: moto
//! (`python3 -m moto.server`, installed by `scripts/install-deps.sh --test`) on a free
//! port of 127.0.0.1, with request signatures checked: moto lets the first three
//! requests through unsigned, which make an IAM user, its access key and an allow-all
//! policy; every request after that must carry a valid SigV4 signature of that key.
//!
//! Moto is killed when the [`Moto`] is dropped, and exits by itself when the test
//! process dies (it watches its stdin, a pipe from this process). Without python3 or
//! moto the tests skip, except with `CI=true`, where they fail (the rule the PostgreSQL
//! tests follow). `TONGHU_TEST_PYTHON` names another interpreter.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use sync_server::blobs::s3::{S3BlobStore, S3Config, Secret};
use sync_server::settings::BlobSettings;

/// Region the tests sign for.
pub const REGION: &str = "us-east-1";

/// Runs moto's server and exits when stdin closes (the test process died).
const LAUNCHER: &str = r#"
import os, sys, threading
def _watch():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)
threading.Thread(target=_watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
"#;

/// A running moto server and the credentials it accepts.
pub struct Moto {
    child: Child,
    log: tempfile::NamedTempFile,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The access key moto made.
    pub access_key: String,
    /// Its secret.
    pub secret_key: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python interpreter that runs moto (`TONGHU_TEST_PYTHON`, default `python3`).
pub fn python() -> String {
    std::env::var("TONGHU_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}

fn moto_missing(why: &str) -> Option<Moto> {
    super::service_missing(
        &format!("moto, the S3 stand-in ({why})"),
        "scripts/install-deps.sh --test installs moto[server]",
    )
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Text between `<tag>` and `</tag>`.
fn xml_field(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    Some(body[start..start + len].to_string())
}

impl Moto {
    /// Starts moto with signature checking and an access key. Fails the test when moto
    /// is not installed (see `service_missing`) or does not start.
    pub async fn start() -> Option<Moto> {
        let py = python();
        match Command::new(&py)
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => {}
            Ok(_) => return moto_missing(&format!("{py} cannot import moto.server")),
            Err(e) => return moto_missing(&format!("{py}: {e}")),
        }
        let mut last_log = String::new();
        for _ in 0..3 {
            match Moto::spawn(&py).await {
                Ok(moto) => return Some(moto.provisioned().await),
                Err(log) => last_log = log,
            }
        }
        panic!("moto did not start; its log:\n{last_log}");
    }

    /// Spawns moto on a free port and waits until it accepts connections; on failure
    /// returns its log.
    async fn spawn(py: &str) -> Result<Moto, String> {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("moto log file");
        let mut child = Command::new(py)
            .args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("moto log file"))
            .spawn()
            .map_err(|e| format!("spawn {py}: {e}"))?;
        let read_log = |log: &tempfile::NamedTempFile| {
            let mut text = String::new();
            let _ = log.reopen().map(|mut f| f.read_to_string(&mut text));
            text
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("moto exited ({status}):\n{}", read_log(&log)));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "moto not listening after 60 s:\n{}",
                    read_log(&log)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Moto {
            child,
            log,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key: String::new(),
            secret_key: String::new(),
        })
    }

    /// Makes the IAM user, its key and policy (the three unsigned requests moto allows).
    async fn provisioned(mut self) -> Moto {
        let http = reqwest::Client::new();
        // Moto routes by the service in the credential scope; the signature is not
        // checked for these first requests.
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let mut key_answer = String::new();
        for form in [
            vec![("Action", "CreateUser"), ("UserName", "tonghu")],
            vec![("Action", "CreateAccessKey"), ("UserName", "tonghu")],
            vec![
                ("Action", "PutUserPolicy"),
                ("UserName", "tonghu"),
                ("PolicyName", "all"),
                ("PolicyDocument", policy),
            ],
        ] {
            let action = form[0].1;
            let mut form = form;
            form.push(("Version", "2010-05-08"));
            let res = http
                .post(format!("{}/", self.endpoint))
                .header("authorization", auth)
                .form(&form)
                .send()
                .await
                .expect("moto IAM request");
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            assert!(status.is_success(), "moto IAM {action}: {status} {body}");
            if action == "CreateAccessKey" {
                key_answer = body;
            }
        }
        self.access_key = xml_field(&key_answer, "AccessKeyId").expect("AccessKeyId");
        self.secret_key = xml_field(&key_answer, "SecretAccessKey").expect("SecretAccessKey");
        self
    }

    /// Settings for `bucket` on this moto with the good credentials.
    pub fn settings(&self, bucket: &str) -> BlobSettings {
        BlobSettings::S3 {
            bucket: bucket.into(),
            endpoint: self.endpoint.clone(),
            region: REGION.into(),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
        }
    }

    /// A client of `bucket` (not checked).
    pub fn store(&self, bucket: &str) -> S3BlobStore {
        S3BlobStore::new(S3Config {
            endpoint: self.endpoint.clone(),
            bucket: bucket.into(),
            region: REGION.into(),
            access_key: self.access_key.clone(),
            secret_key: Secret::new(self.secret_key.clone()),
        })
        .expect("s3 client")
    }

    /// Creates a fresh bucket (with boto3, which moto brings: the server never creates
    /// buckets) and returns settings for it.
    pub async fn bucket(&self) -> BlobSettings {
        let name = format!("tonghu-{}", uuid::Uuid::now_v7().simple());
        let script = format!(
            r#"
import boto3, sys
from botocore.config import Config
c = boto3.client("s3", endpoint_url="{endpoint}", region_name="{REGION}",
    aws_access_key_id="{ak}", aws_secret_access_key=sys.stdin.readline().strip(),
    config=Config(s3={{"addressing_style": "path"}}))
c.create_bucket(Bucket="{name}")
"#,
            endpoint = self.endpoint,
            ak = self.access_key,
        );
        let secret = self.secret_key.clone();
        let ok = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = Command::new(python())
                .args(["-c", &script])
                .stdin(Stdio::piped())
                .spawn()
                .expect("python3");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{secret}\n").as_bytes())
                .unwrap();
            child.wait().unwrap().success()
        })
        .await
        .unwrap();
        assert!(ok, "create the test bucket; moto log:\n{}", self.log());
        self.settings(&name)
    }

    /// Moto's log so far (requests and tracebacks), for failing assertions.
    pub fn log(&self) -> String {
        let mut text = String::new();
        let _ = self.log.reopen().map(|mut f| f.read_to_string(&mut text));
        text
    }
}
