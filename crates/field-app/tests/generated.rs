//! What is made from the one list of commands (`crates/field-app/src/commands.rs`) is
//! kept in the repository: the UI's TypeScript (`ui/src/lib/api/gen/`) and the Tauri
//! app's permission (`src-tauri/permissions/device-api.toml`). This test fails when a
//! committed copy is out of date, or a stray file sits among them;
//! `TONGHU_UPDATE_GENERATED=1 cargo test -p field-app --test generated` rewrites them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir`, by path relative to the repository's root.
fn read_all(root: &Path, dir: &str) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &root.join(dir), &mut out);
    out
}

#[test]
fn the_generated_files_are_made_from_the_one_list_and_committed_up_to_date() {
    let generated = field_app::generated_files().unwrap();
    let ts = |name: &str| format!("{}/{name}", field_app::commands::TYPESCRIPT_DIR);
    let commands = &generated[&ts("commands.ts")];
    assert!(generated.contains_key(&ts("RosterItem.ts")));
    assert!(
        generated.contains_key(&ts("Checklist.ts")),
        "domain types come along"
    );
    for name in field_app::COMMANDS.iter().chain(field_app::SHELL_COMMANDS) {
        assert!(
            commands.contains(&format!("  {name}: {{ args:")),
            "{name} in Commands"
        );
        assert!(
            commands.contains(&format!("call(\"{name}\", args)")),
            "{name} has a wrapper"
        );
    }
    for name in field_app::EVENTS {
        assert!(
            commands.contains(&format!("  {name}: ")),
            "{name} in Events"
        );
    }
    assert!(
        commands.contains(
            "appState: (args: Empty = {}): Promise<AppState> => call(\"app_state\", args)"
        ),
        "a command without arguments may be called without them"
    );
    assert!(
        commands.contains("roster: (args: RosterFilter = {})"),
        "nor one whose every argument has a default"
    );
    assert!(
        commands.contains("recordVisit: (args: NewVisit): Promise<VisitSaved>"),
        "a command with required arguments needs them"
    );
    assert!(
        generated[&ts("RosterItem.ts")].contains("risk_colour: RiskColour"),
        "codes are typed as their code lists for the UI"
    );
    assert!(
        !generated.values().any(|t| t.contains("bigint")),
        "numbers, not bigints"
    );
    // A wrapper whose argument may be left out takes `{}`: its type has no required
    // field (else the UI's TypeScript would not compile).
    for line in commands.lines().filter(|l| l.contains(" = {})")) {
        let ty = line
            .split("args: ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let decl = &generated[&ts(&format!("{ty}.ts"))];
        let body = decl.split(&format!("export type {ty} = ")).nth(1).unwrap();
        let mut plain = String::new();
        let mut rest = body;
        while let Some(i) = rest.find("/*") {
            plain.push_str(&rest[..i]);
            rest = rest[i..].split_once("*/").map_or("", |(_, r)| r);
        }
        plain.push_str(rest);
        for word in plain.split([',', '{', ';']) {
            let word = word.trim();
            if let Some((name, _)) = word.split_once(':') {
                assert!(
                    name.ends_with('?') || name.contains('"') || name.contains('['),
                    "{ty}.{name} is required, yet {ty} may be left out (`{{}}`): mark it #[ts(optional)]"
                );
            }
        }
    }
    // index.ts exports every declaration.
    let index = &generated[&ts("index.ts")];
    for path in generated.keys().filter(|p| p.ends_with(".ts")) {
        let name = path.rsplit('/').next().unwrap().trim_end_matches(".ts");
        if name != "index" && name != "commands" {
            assert!(
                index.contains(&format!("export type {{ {name} }}")),
                "{name} in index.ts"
            );
        }
    }
    // Every import of every file resolves to a generated file.
    for (name, text) in generated.iter().filter(|(n, _)| n.ends_with(".ts")) {
        let here = Path::new(name).parent().unwrap_or(Path::new(""));
        for line in text.lines() {
            let Some((_, target)) = line.split_once(" from \"") else {
                continue;
            };
            let target = target.trim_end_matches(';').trim_end_matches('"');
            let mut norm = PathBuf::new();
            for c in here.join(format!("{target}.ts")).components() {
                match c {
                    std::path::Component::ParentDir => {
                        norm.pop();
                    }
                    std::path::Component::CurDir => {}
                    other => norm.push(other),
                }
            }
            let key = norm.to_string_lossy().replace('\\', "/");
            assert!(
                generated.contains_key(&key),
                "{name} imports {target}, which was not generated"
            );
        }
    }
    // The Tauri app's permission allows exactly the list, device and shell.
    let permission = &generated[field_app::commands::TAURI_PERMISSION_FILE];
    let allowed: Vec<&str> = permission
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\","))
        .collect();
    let expected: Vec<&str> = field_app::COMMANDS
        .iter()
        .chain(field_app::SHELL_COMMANDS)
        .copied()
        .collect();
    assert_eq!(allowed, expected);

    let root = repo_root();
    if std::env::var_os("TONGHU_UPDATE_GENERATED").is_some()
        || std::env::var_os("TONGHU_UPDATE_TS").is_some()
    {
        field_app::write_generated(&root).unwrap();
    }
    let mut committed = read_all(&root, field_app::commands::TYPESCRIPT_DIR);
    let permission_file = field_app::commands::TAURI_PERMISSION_FILE;
    if let Ok(text) = std::fs::read_to_string(root.join(permission_file)) {
        committed.insert(permission_file.to_string(), text);
    }
    let stale: Vec<_> = generated
        .iter()
        .filter(|(n, t)| committed.get(*n) != Some(t))
        .map(|(n, _)| n.clone())
        .chain(
            committed
                .keys()
                .filter(|n| !generated.contains_key(*n))
                .cloned(),
        )
        .collect();
    assert!(
        stale.is_empty(),
        "out of date or not generated: {stale:?}; run TONGHU_UPDATE_GENERATED=1 cargo test -p field-app --test generated"
    );
}

#[test]
fn the_dispatcher_knows_every_command_and_leaves_the_shell_s_own_to_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let app = field_app::DeviceApp::open(
        dir.path(),
        field_app::AppConfig {
            background_sync: None,
            watch_idle: false,
            ..field_app::AppConfig::default()
        },
    )
    .unwrap();
    for name in field_app::COMMANDS {
        // Locked or refused for its arguments, never an unknown command.
        if let Err(e) = app.call(name, serde_json::json!({})) {
            assert_ne!(e.code, "unknown_command", "{name}");
        }
    }
    for name in field_app::SHELL_COMMANDS {
        let e = app.call(name, serde_json::json!({})).unwrap_err();
        assert_eq!(e.code, "unknown_command", "{name}");
        assert!(e.zh.contains("手机应用"), "{}", e.zh);
    }
}
