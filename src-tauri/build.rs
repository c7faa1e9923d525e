//! Tauri's build step, with the app's ACL manifest: the commands the app defines are
//! the device API's (read from `crates/field-app/src/commands.rs`, the one list) and
//! the shell's own `save_agreement_pdf`; Tauri generates an `allow-<command>`
//! permission for each, which `capabilities/default.json` grants. Tests check the
//! list read here is `field_app::COMMANDS` (`src/commands/mod.rs`) and that the
//! capability grants exactly these (`tests/capabilities.rs`).

use std::path::Path;

/// The shell's own commands (`src/commands/mod.rs`, `SHELL_COMMANDS`).
const SHELL_COMMANDS: &[&str] = &["save_agreement_pdf"];

fn main() {
    let source = Path::new("../crates/field-app/src/commands.rs");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(source).expect("read crates/field-app/src/commands.rs");
    let mut commands = device_commands(&text);
    assert!(
        commands.len() > 10,
        "found only {} commands in {}",
        commands.len(),
        source.display()
    );
    println!(
        "cargo:rustc-env=TONGHU_MANIFEST_COMMANDS={}",
        commands.join(",")
    );
    commands.extend(SHELL_COMMANDS.iter().map(|c| c.to_string()));
    let commands: &'static [&'static str] = Vec::leak(
        commands
            .into_iter()
            .map(|c| &*String::leak(c))
            .collect::<Vec<&'static str>>(),
    );

    // The UI is embedded at compile time. A fresh clone has not built it yet: the app
    // then shows a page saying how, so `cargo build --workspace` works anyway.
    println!("cargo:rerun-if-changed=../ui/dist/index.html");
    if !Path::new("../ui/dist/index.html").exists() {
        println!(
            "cargo:warning=ui/dist is not built (cd ui && npm ci && npm run build): the app will show a placeholder"
        );
        println!(r#"cargo:rustc-env=TAURI_CONFIG={{"build":{{"frontendDist":"ui-not-built"}}}}"#);
    }

    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri-build");
}

/// The command names in field-app's `commands! { … }` block: lines `name => Variant(`.
fn device_commands(source: &str) -> Vec<String> {
    let block = source
        .split("\ncommands! {")
        .nth(1)
        .expect("no `commands! {` block in commands.rs");
    let block = &block[..block.find("\n}").expect("unterminated commands! block")];
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .filter_map(|l| {
            let (name, rest) = l.split_once(" => ")?;
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            (is_name && rest.contains('(')).then(|| name.to_string())
        })
        .collect()
}
