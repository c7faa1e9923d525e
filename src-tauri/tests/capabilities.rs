//! What the app's page may do is exactly the app's own commands: the capability the
//! main window gets grants every device command and the shell's own, the app's event
//! listening, and nothing else — no shell, no file system, no window control, no
//! remote page. A command added to `field_app::COMMANDS` fails here until it is granted.

use serde_json::Value;
use std::collections::BTreeSet;

fn json(path: &str) -> Value {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn the_main_window_may_call_exactly_the_app_s_own_commands() {
    let cap = json("capabilities/default.json");
    assert_eq!(cap["identifier"], "main-window");
    assert_eq!(cap["windows"], serde_json::json!(["main"]));
    assert!(
        cap.get("remote").is_none(),
        "no remote page may call the app"
    );
    assert!(cap.get("webviews").is_none());

    let granted: BTreeSet<String> = cap["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_str()
                .expect("a plain permission name, no scopes")
                .to_string()
        })
        .collect();
    let mut expected: BTreeSet<String> = tonghu_app_lib::commands::all()
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .collect();
    // The page listens to app_state, sync_state and sync_progress.
    expected.insert("core:event:allow-listen".into());
    expected.insert("core:event:allow-unlisten".into());
    assert_eq!(granted, expected);
}

#[test]
fn the_app_uses_its_one_capability_a_strict_csp_and_the_built_ui() {
    let conf = json("tauri.conf.json");
    assert_eq!(
        conf["app"]["security"]["capabilities"],
        serde_json::json!(["main-window"])
    );
    assert_eq!(conf["app"]["withGlobalTauri"], false);
    assert_eq!(conf["build"]["frontendDist"], "../ui/dist");
    let csp = conf["app"]["security"]["csp"].as_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("http://") || csp.contains("http://ipc.localhost"),
        "{csp}"
    );
    for remote in ["https:", "*", "unsafe-eval"] {
        assert!(!csp.contains(remote), "{remote} in the CSP: {csp}");
    }
    // The window is made by the shell (background::main_window), which keeps its
    // webview on the app's pages; Tauri must not make a second one.
    assert_eq!(conf["app"]["windows"][0]["create"], false);
}

#[test]
fn no_plugin_is_a_dependency_of_the_shell() {
    // A plugin (shell, fs, opener, …) would bring commands the ACL must then refuse;
    // the shell has none to refuse.
    let manifest =
        std::fs::read_to_string(format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert!(
        !manifest.contains("tauri-plugin"),
        "src-tauri/Cargo.toml names a Tauri plugin"
    );
}
