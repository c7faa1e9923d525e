//! The phone on the previous release, built from git, for the tests that check a new
//! server and new phones against phones that have not updated yet (6,735 phones do not
//! update on the same day).
//!
//! [`previous_release`] takes the release's tree out of this clone's history
//! (`git archive`) into `target/previous-release/<commit>/` — a stable place, so the
//! second build is incremental — adds a small package whose only binary is that
//! release's own `fieldctl` under another name (`fieldctl-<commit>`, so it never
//! replaces this workspace's `fieldctl`), and builds it with `CARGO_TARGET_DIR` set to
//! this workspace's target, so the registry crates already compiled are reused. The
//! old phone is then driven through its own device API ([`OldPhone`]), exactly what
//! that release's app could do.
//!
//! When the commit or the build is unavailable (a shallow clone, no network for a
//! crate the old lock file names), a run under `CI=true` fails saying why; elsewhere
//! the test says it was skipped.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The release before this one: the commit every phone that has not updated runs.
/// Move it forward when a release is cut.
pub const PREVIOUS_RELEASE: &str = "4751fcb";

/// The previous release's device CLI, built.
#[derive(Clone, Debug)]
pub struct PreviousRelease {
    pub commit: &'static str,
    pub fieldctl: PathBuf,
}

/// The previous release, built (once per test process; cargo's own lock keeps two
/// processes from building at the same time). `None` (with a note on stderr) when it
/// cannot be had here; under `CI=true` that is a failure instead.
pub fn previous_release() -> Option<PreviousRelease> {
    static BUILT: OnceLock<Result<PreviousRelease, String>> = OnceLock::new();
    match BUILT.get_or_init(|| build(PREVIOUS_RELEASE)) {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            if std::env::var("CI").is_ok_and(|c| c == "true") {
                panic!(
                    "CI=true but the previous release ({PREVIOUS_RELEASE}) cannot be built: {why}"
                );
            }
            eprintln!(
                "SKIPPED: the previous release ({PREVIOUS_RELEASE}) cannot be built here: {why}"
            );
            None
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// This workspace's target folder: where the running test binary was built
/// (`target/debug/deps/…`).
fn target_dir() -> PathBuf {
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    let mut dir = std::env::current_exe().expect("test executable path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.pop();
    dir
}

fn run(cmd: &mut Command, what: &str) -> Result<std::process::Output, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            tail.join("\n")
        ));
    }
    Ok(out)
}

/// The package added to the old tree: that release's own fieldctl source, built under
/// a name of its own.
fn driver_manifest(commit: &str) -> String {
    format!(
        r#"[package]
name = "tonghu-previous-release"
description = "The phone of release {commit}, for compatibility tests (added by tests/src/previous_release.rs)"
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = "fieldctl-{commit}"
path = "../crates/field-app/src/bin/fieldctl.rs"

[dependencies]
field-app.workspace = true
field-store.workspace = true
domain.workspace = true
sync-core.workspace = true
serde_json.workspace = true
uuid.workspace = true
clap.workspace = true
indicatif.workspace = true
base64.workspace = true
"#
    )
}

fn build(commit: &'static str) -> Result<PreviousRelease, String> {
    let root = workspace_root();
    let target = target_dir();
    let tree = target.join("previous-release").join(commit);
    if !tree.join(".complete").exists() {
        run(
            Command::new("git")
                .arg("-C")
                .arg(&root)
                .args(["rev-parse", "--verify", "--quiet"])
                .arg(format!("{commit}^{{commit}}")),
            &format!("finding commit {commit} in this clone (a shallow clone lacks it)"),
        )?;
        // Extracted next to its final place and renamed into it: two test processes
        // starting at once never see a half-written tree.
        let staging = target
            .join("previous-release")
            .join(format!(".{commit}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
        let tar = staging.join("release.tar");
        run(
            Command::new("git")
                .arg("-C")
                .arg(&root)
                .args(["archive", "--format=tar", "-o"])
                .arg(&tar)
                .arg(commit),
            "git archive",
        )?;
        run(
            Command::new("tar")
                .arg("-xf")
                .arg(&tar)
                .arg("-C")
                .arg(&staging),
            "unpacking the release",
        )?;
        std::fs::remove_file(&tar).map_err(|e| e.to_string())?;
        let manifest = staging.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
        let text = text.replacen("members = [", "members = [\n    \"previous-release\",", 1);
        std::fs::write(&manifest, text).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(staging.join("previous-release")).map_err(|e| e.to_string())?;
        std::fs::write(
            staging.join("previous-release/Cargo.toml"),
            driver_manifest(commit),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(staging.join(".complete"), commit).map_err(|e| e.to_string())?;
        if std::fs::rename(&staging, &tree).is_err() {
            // Another process got there first: its tree is the same.
            let _ = std::fs::remove_dir_all(&staging);
            if !tree.join(".complete").exists() {
                return Err(format!("could not place the release at {}", tree.display()));
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let bin = format!("fieldctl-{commit}");
    run(
        Command::new(cargo)
            .args(["build", "--quiet", "--manifest-path"])
            .arg(tree.join("Cargo.toml"))
            .args(["-p", "tonghu-previous-release", "--bin", &bin])
            .env("CARGO_TARGET_DIR", &target)
            // Built as this workspace builds (Cargo.toml's [profile.dev]), whatever the
            // old tree's own profile said, so the registry crates compiled for this run
            // are reused instead of built and stored a second time.
            .env("CARGO_PROFILE_DEV_DEBUG", "false")
            .env("CARGO_PROFILE_DEV_STRIP", "debuginfo")
            // The old tree is a workspace of its own; nothing of this run's package
            // may leak into its build.
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("CARGO_PKG_NAME"),
        &format!("building the release {commit}'s fieldctl"),
    )?;
    let fieldctl = target.join("debug").join(&bin);
    if !fieldctl.exists() {
        return Err(format!("{} was not built", fieldctl.display()));
    }
    Ok(PreviousRelease { commit, fieldctl })
}

/// A phone on the previous release: its own data folder, driven by that release's
/// `fieldctl` (every subcommand is one of its device commands).
pub struct OldPhone {
    pub release: PreviousRelease,
    dir: tempfile::TempDir,
}

impl OldPhone {
    /// A fresh phone of that release.
    pub fn new(release: PreviousRelease) -> OldPhone {
        OldPhone {
            release,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Runs `fieldctl --json <args>`; the JSON answer, or the error it printed.
    pub fn try_run(&self, args: &[&str]) -> Result<Value, String> {
        let out = Command::new(&self.release.fieldctl)
            .arg("--data")
            .arg(self.dir.path())
            .arg("--json")
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(&text).map_err(|_| {
            format!(
                "fieldctl {args:?}: not JSON: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        if !out.status.success() || v.get("error").is_some() {
            return Err(format!("fieldctl {args:?} failed: {v}"));
        }
        Ok(v)
    }

    /// [`OldPhone::try_run`] that must succeed.
    pub fn run(&self, args: &[&str]) -> Value {
        self.try_run(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Any device command of that release by name.
    pub fn call(&self, command: &str, args: Value) -> Value {
        self.run(&["call", command, &args.to_string()])
    }

    /// Enrolls with `server` using a code for `account`.
    pub fn enroll(&self, server: &crate::TestServer, account: &str) -> Value {
        let code = server.enroll_code(account);
        self.run(&[
            "enroll",
            "--server",
            &server.url,
            "--code",
            &code,
            "--name",
            &format!("previous release {}", self.release.commit),
        ])
    }

    /// One sync round (push, photos, pull, verify); its report.
    pub fn sync(&self) -> Value {
        self.run(&["sync"])
    }

    /// The whole synced state as that release exports it (canonical JSON).
    pub fn export(&self) -> Value {
        self.run(&["export"])
    }
}
