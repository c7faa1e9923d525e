//! The UI's TypeScript types are generated from the device API's Rust types and kept
//! in the repository (`ui/src/lib/api/gen/`). This test fails when they are out of
//! date; `TONGHU_UPDATE_TS=1 cargo test -p field-app --test typescript` rewrites them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/api/gen")
}

/// Every `.ts` file under `dir`, by path relative to it.
fn read_all(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|x| x == "ts") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn the_ui_typescript_types_are_generated_from_the_rust_types() {
    let fresh = tempfile::tempdir().unwrap();
    field_app::export_typescript(fresh.path()).unwrap();
    let generated = read_all(fresh.path());
    assert!(generated.contains_key("commands.ts"));
    assert!(generated.contains_key("RosterItem.ts"));
    assert!(
        generated.contains_key("Checklist.ts"),
        "domain types come along"
    );
    let commands = &generated["commands.ts"];
    for name in field_app::COMMANDS {
        assert!(
            commands.contains(&format!("  {name}: {{ args:")),
            "{name} in commands.ts"
        );
    }
    assert!(
        generated["RosterItem.ts"].contains("risk_colour: RiskColour"),
        "codes are typed as their code lists for the UI"
    );
    assert!(
        !generated.values().any(|t| t.contains("bigint")),
        "numbers, not bigints"
    );
    // Every import of every file resolves to a generated file.
    for (name, text) in &generated {
        let here = Path::new(name).parent().unwrap_or(Path::new(""));
        for line in text.lines().filter(|l| l.starts_with("import type")) {
            let target = line.rsplit('"').nth(1).unwrap();
            let resolved = here.join(format!("{target}.ts"));
            let mut norm = PathBuf::new();
            for c in resolved.components() {
                match c {
                    std::path::Component::ParentDir => {
                        norm.pop();
                    }
                    std::path::Component::CurDir => {}
                    other => norm.push(other),
                }
            }
            let key = norm.to_string_lossy().into_owned();
            assert!(
                generated.contains_key(&key),
                "{name} imports {target}, which was not generated"
            );
        }
    }

    let dir = committed_dir();
    if std::env::var("TONGHU_UPDATE_TS").is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &generated {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
    let committed = read_all(&dir);
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
        "ui/src/lib/api/gen is out of date ({stale:?}); run TONGHU_UPDATE_TS=1 cargo test -p field-app --test typescript"
    );
}
