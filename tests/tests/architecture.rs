//! ARCHITECTURE.md stays true: its arrows (the fenced `arrows` block of its "Arrows"
//! section) are checked against the code. Each line lists a crate's modules — or, on
//! the `crates` line, the workspace's crates — bottom layer first, layers separated by
//! `<`: a crate or module may use only what lies in a layer below its own. So this
//! test fails when an arrow points the wrong way (a crate depending on one above it in
//! `cargo metadata`, a module naming `crate::x` of its own layer or above), when a
//! file cycle appears (two modules naming each other can never both be below the
//! other), and when a crate or module the block does not place appears.
//!
//! A module is a top-level file or folder of a crate's `src/` (`lib.rs`, `main.rs` and
//! `bin/` are the crate itself); its uses are the `crate::…` paths of its code outside
//! comments and `#[cfg(test)]` (tests may reach anything).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `arrows` block: name → layers, bottom first.
fn arrows() -> BTreeMap<String, Vec<BTreeSet<String>>> {
    let text = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let block = text
        .split("```arrows\n")
        .nth(1)
        .expect("ARCHITECTURE.md has an ```arrows block")
        .split("```")
        .next()
        .unwrap();
    let mut out = BTreeMap::new();
    // A line ending in `<` goes on on the next one.
    let joined = block.replace("<\n", "< ");
    for line in joined.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, layers) = line.split_once(':').expect("`name: a, b < c`");
        let layers: Vec<BTreeSet<String>> = layers
            .split('<')
            .map(|l| {
                l.split(',')
                    .map(|m| m.trim().to_string())
                    .filter(|m| !m.is_empty())
                    .collect()
            })
            .collect();
        let mut seen = BTreeSet::new();
        for m in layers.iter().flatten() {
            assert!(seen.insert(m.clone()), "{name}: {m} placed twice");
        }
        out.insert(name.trim().to_string(), layers);
    }
    out
}

/// The layer of `name` (its index), if placed.
fn layer_of(layers: &[BTreeSet<String>], name: &str) -> Option<usize> {
    layers.iter().position(|l| l.contains(name))
}

/// Checks every edge `from → to` of `graph` against `layers`; returns what is wrong.
fn misplaced(
    what: &str,
    layers: &[BTreeSet<String>],
    graph: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (from, tos) in graph {
        let Some(lf) = layer_of(layers, from) else {
            wrong.push(format!(
                "{what}: {from} is not placed in ARCHITECTURE.md's arrows"
            ));
            continue;
        };
        for to in tos {
            match layer_of(layers, to) {
                None => wrong.push(format!(
                    "{what}: {to} is not placed in ARCHITECTURE.md's arrows"
                )),
                Some(lt) if lt >= lf => wrong.push(format!(
                    "{what}: {from} uses {to}, which is not below it (layers {lf} → {lt}){}",
                    if graph.get(to).is_some_and(|t| t.contains(from)) {
                        " — a cycle"
                    } else {
                        ""
                    }
                )),
                Some(_) => {}
            }
        }
    }
    for name in layers.iter().flatten() {
        if !graph.contains_key(name) {
            wrong.push(format!(
                "{what}: ARCHITECTURE.md places {name}, which does not exist"
            ));
        }
    }
    wrong
}

struct Package {
    name: String,
    src: PathBuf,
    deps: BTreeSet<String>,
}

/// The workspace's packages from `cargo metadata`, with their normal dependencies on
/// each other.
fn packages() -> Vec<Package> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let targets = p["targets"].as_array().unwrap();
            let main = targets
                .iter()
                .find(|t| {
                    t["kind"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k != "bin" && k != "test" && k != "bench" && k != "example")
                })
                .or_else(|| targets.iter().find(|t| t["kind"][0] == "bin"))
                .unwrap();
            let src = Path::new(main["src_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .to_path_buf();
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .filter(|d| members.contains(d))
                .collect();
            Package {
                name: p["name"].as_str().unwrap().to_string(),
                src,
                deps,
            }
        })
        .collect()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// Code as the compiler reads it for the crate (no comments, no test modules).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules of a crate's `src/` and the modules each names (`crate::x`).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let p = e.path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if ["lib", "main", "bin"].contains(&name.as_str()) {
            continue;
        }
        if p.is_dir() {
            let rs = rust_files(&p);
            if !rs.is_empty() {
                files.entry(name).or_default().extend(rs);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.entry(name).or_default().push(p);
        }
    }
    let names: BTreeSet<String> = files.keys().cloned().collect();
    let ident = |s: &str| -> Vec<String> {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    files
        .iter()
        .map(|(m, paths)| {
            let mut uses = BTreeSet::new();
            for p in paths {
                let code = code_of(p);
                for part in code.split("crate::").skip(1) {
                    let words = if let Some(group) = part.strip_prefix('{') {
                        ident(group.split('}').next().unwrap_or(""))
                    } else {
                        ident(part).into_iter().take(1).collect()
                    };
                    for w in words {
                        if names.contains(&w) && &w != m {
                            uses.insert(w);
                        }
                    }
                }
            }
            (m.clone(), uses)
        })
        .collect()
}

#[test]
fn the_crate_and_module_arrows_of_architecture_md_hold_and_no_file_cycle_exists() {
    let arrows = arrows();
    let packages = packages();
    let mut wrong = Vec::new();

    let crates: BTreeMap<String, BTreeSet<String>> = packages
        .iter()
        .map(|p| (p.name.clone(), p.deps.clone()))
        .collect();
    wrong.extend(misplaced("crates", &arrows["crates"], &crates));

    for p in &packages {
        let graph = module_graph(&p.src);
        match arrows.get(&p.name) {
            Some(layers) => wrong.extend(misplaced(&p.name, layers, &graph)),
            None if graph.is_empty() => {}
            None => wrong.push(format!(
                "{}: its modules are not placed in ARCHITECTURE.md's arrows",
                p.name
            )),
        }
    }
    for name in arrows.keys().filter(|k| *k != "crates") {
        if !packages.iter().any(|p| &p.name == name) {
            wrong.push(format!(
                "ARCHITECTURE.md's arrows name {name}, which is not a crate"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md is not true:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_a_wrong_arrow_and_a_cycle() {
    // The test above would pass on an empty graph: it must see what it checks.
    let layers: Vec<BTreeSet<String>> = vec![["a".to_string()].into(), ["b".to_string()].into()];
    let ok: BTreeMap<String, BTreeSet<String>> = [
        ("a".into(), BTreeSet::new()),
        ("b".into(), ["a".to_string()].into()),
    ]
    .into();
    assert!(misplaced("t", &layers, &ok).is_empty());
    let cycle: BTreeMap<String, BTreeSet<String>> = [
        ("a".into(), ["b".to_string()].into()),
        ("b".into(), ["a".to_string()].into()),
    ]
    .into();
    let w = misplaced("t", &layers, &cycle);
    assert!(
        w.iter()
            .any(|w| w.contains("a uses b") && w.contains("cycle")),
        "{w:?}"
    );
    // The real code: field-app's modules are found with their uses.
    let graph = module_graph(&workspace().join("crates/field-app/src"));
    assert!(graph["work"].contains("app"), "{graph:?}");
    assert!(graph["commands"].contains("types"));
    assert!(!graph.contains_key("lib"));
}

#[test]
fn every_device_clock_read_goes_through_the_replaceable_clock() {
    // ARCHITECTURE.md: the device's time comes from a `DeviceClock` a test can replace
    // (field-store's clock.rs is the one place that reads the machine's clocks), so a
    // phone whose owner moves its clock is simulated everywhere at once.
    let mut direct = Vec::new();
    for dir in [
        "crates/field-store/src",
        "crates/field-app/src",
        "crates/field-bridge/src",
    ] {
        for f in rust_files(&workspace().join(dir)) {
            if f.ends_with("clock.rs") {
                continue;
            }
            let code = code_of(&f);
            for read in ["Utc::now()", "Local::now()", "SystemTime::now()"] {
                if code.contains(read) {
                    direct.push(format!("{} reads {read}", f.display()));
                }
            }
        }
    }
    assert!(direct.is_empty(), "{direct:#?}");
}
