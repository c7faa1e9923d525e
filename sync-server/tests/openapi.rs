//! The sync API's published description, fuzzed: schemathesis (a property-based API
//! fuzzer from PyPI, installed by `scripts/install-deps.sh --test`) reads the OpenAPI
//! file the running server serves and attacks every sync route with generated and
//! mutated requests, as a director and without a token. No 5xx, every status and body
//! as documented, every error an ErrorBody. On SQLite and PostgreSQL; without
//! schemathesis the test skips, except with `CI=true`, where it fails.

mod common;

use common::{Backend, TestServer};
use serde_json::Value;

backend_tests!(
    the_served_openapi_file_describes_the_sync_api,
    schemathesis_finds_no_5xx_in_the_sync_api_and_only_error_bodies
);

async fn the_served_openapi_file_describes_the_sync_api(b: Backend) {
    let s = TestServer::start(b).await;
    let doc: Value = reqwest::get(s.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/enroll",
        "/v1/push",
        "/v1/pull",
        "/v1/verify",
        "/v1/blobs/{sha256}",
        "/v1/blobs/{sha256}/status",
        // The console's JSON API is in the same file.
        "/api/v1/console/overview",
        "/api/v1/console/shared-id-numbers",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI file");
    }
    assert!(doc["components"]["schemas"]["PushRequest"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

async fn schemathesis_finds_no_5xx_in_the_sync_api_and_only_error_bodies(b: Backend) {
    let Some(st) = which("schemathesis") else {
        common::service_missing("schemathesis", "scripts/install-deps.sh --test installs it");
    };
    let s = TestServer::start(b).await;
    let dir_a = s.device("dir-a").await;
    let (_child, changes) = dir_a.new_child("A", "王小明");
    assert!(dir_a.push(&changes).await.rejected.is_empty());
    let token = dir_a.token.clone();
    let schema = s.url("/api/openapi.json");
    let base = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let run = |auth: Option<&str>| {
            let mut cmd = std::process::Command::new(&st);
            cmd.current_dir(scratch.path()).args([
                "run",
                &schema,
                "--url",
                &base,
                "--include-path-regex",
                "^/(v1/|healthz)",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--workers",
                "1",
                "--max-examples",
                "30",
                "--seed",
                "4243",
                "--phases",
                "examples,coverage,fuzzing",
            ]);
            if let Some(t) = auth {
                cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
            }
            cmd.env("SCHEMATHESIS_HOOKS", "")
                .env("NO_COLOR", "1")
                .output()
                .expect("run schemathesis")
        };
        vec![run(Some(&token)), run(None)]
    })
    .await
    .unwrap();
    for o in out {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "schemathesis found problems:\n{text}");
    }
}

fn which(cmd: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(cmd))
            .find(|f| f.is_file())
    })
}
