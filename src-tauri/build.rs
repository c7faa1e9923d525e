//! Tauri's build step. The app's ACL manifest is `permissions/device-api.toml`,
//! generated from the device API's one list of commands
//! (`crates/field-app/src/commands.rs`; `cargo test -p field-app --test generated`
//! keeps it current): `tauri-build` reads the app's permissions from `permissions/`,
//! and with them in place it checks every command the page invokes against the
//! capability (`capabilities/default.json`, which grants that one permission). Nothing
//! here knows a command's name.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=permissions");
    // The UI is embedded at compile time. A fresh clone has not built it yet: the app
    // then shows a page saying how, so `cargo build --workspace` works anyway.
    println!("cargo:rerun-if-changed=../ui/dist/index.html");
    if !Path::new("../ui/dist/index.html").exists() {
        println!(
            "cargo:warning=ui/dist is not built (cd ui && npm ci && npm run build): the app will show a placeholder"
        );
        println!(r#"cargo:rustc-env=TAURI_CONFIG={{"build":{{"frontendDist":"ui-not-built"}}}}"#);
    }
    tauri_build::build();
}
