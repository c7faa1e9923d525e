//! What the UI can invoke, one file per area of the app. Each device command is one
//! line naming it; the line makes a Tauri command that hands its arguments to the one
//! dispatcher, [`DeviceApp::call`](field_app::DeviceApp::call), and nothing else:
//!
//! - [`session`]: enrolling, the PIN, locking, settings, code lists.
//! - [`children`]: home, the roster, a child's file and its people.
//! - [`visits`]: visits, their photos and drafts, referrals.
//! - [`agreements`]: care agreements, and `save_agreement_pdf` — the family's
//!   printed copy saved by the shell, the one command a browser has no use for.
//! - [`sync`]: the sync screen and the device's counters.
//!
//! Together the areas are exactly [`field_app::COMMANDS`] plus [`SHELL_COMMANDS`]
//! (tested below); which of them a page may call is decided before any runs, by
//! Tauri's ACL: `capabilities/default.json` allows exactly these to the main window.

pub mod agreements;
pub mod children;
pub mod session;
pub mod sync;
pub mod visits;

use crate::Device;
use field_app::UserError;
use serde_json::Value;
use tauri::ipc::Invoke;
use tauri::Runtime;

/// The shell's own commands, besides the device's (`build.rs` declares them too).
pub const SHELL_COMMANDS: &[&str] = &["save_agreement_pdf"];

/// Makes one Tauri command per name — `invoke(name, { args })` is
/// `DeviceApp::call(name, args)` on a blocking thread — plus the area's `NAMES` and
/// its invoke `handler`. The commands stay private to their module, where Tauri's
/// handler macro can see them.
macro_rules! device_commands {
    ($($name:ident),+ $(,)?) => {
        /// This area's device commands.
        pub const NAMES: &[&str] = &[$(stringify!($name)),+];

        $(
            #[tauri::command]
            async fn $name(
                device: tauri::State<'_, $crate::Device>,
                args: Option<serde_json::Value>,
            ) -> Result<serde_json::Value, field_app::UserError> {
                $crate::commands::call(&device, stringify!($name), args).await
            }
        )+

        /// Runs this area's commands (and answers `false` to any other).
        pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync {
            tauri::generate_handler![$($name),+]
        }
    };
}
pub(crate) use device_commands;

/// One device command, off the event loop: SQLite, key derivation and the photo
/// pipeline must not freeze the window. A failure is the `UserError` itself
/// (`{code, zh, en, field}`), which the UI's `invoke` rejects with; no arguments
/// (`invoke(name)`) are `{}`.
pub(crate) async fn call(
    device: &Device,
    name: &'static str,
    args: Option<Value>,
) -> Result<Value, UserError> {
    let device = device.0.clone();
    tauri::async_runtime::spawn_blocking(move || device.call(name, args.unwrap_or(Value::Null)))
        .await
        .map_err(|e| UserError::new("internal", "应用内部出错，请重试", e.to_string()))?
}

/// The app's invoke handler: each command goes to its area's.
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    type Area<R> = (
        &'static [&'static str],
        Box<dyn Fn(Invoke<R>) -> bool + Send + Sync>,
    );
    let areas: Vec<Area<R>> = vec![
        (session::NAMES, Box::new(session::handler())),
        (children::NAMES, Box::new(children::handler())),
        (visits::NAMES, Box::new(visits::handler())),
        (agreements::NAMES, Box::new(agreements::handler())),
        (agreements::SHELL, Box::new(agreements::shell_handler())),
        (sync::NAMES, Box::new(sync::handler())),
    ];
    move |invoke: Invoke<R>| {
        let name = invoke.message.command();
        match areas.iter().find(|(names, _)| names.contains(&name)) {
            Some((_, area)) => area(invoke),
            None => false,
        }
    }
}

/// Every command the areas define, device and shell, in area order.
pub fn all() -> Vec<&'static str> {
    [
        session::NAMES,
        children::NAMES,
        visits::NAMES,
        agreements::NAMES,
        agreements::SHELL,
        sync::NAMES,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_areas_are_exactly_the_device_api_and_the_shell_s_own_commands() {
        let defined = all();
        let unique: BTreeSet<_> = defined.iter().copied().collect();
        assert_eq!(
            unique.len(),
            defined.len(),
            "a command in two areas: {defined:?}"
        );
        let expected: BTreeSet<_> = field_app::COMMANDS
            .iter()
            .chain(SHELL_COMMANDS)
            .copied()
            .collect();
        assert_eq!(
            unique, expected,
            "src-tauri/src/commands/* and field_app::COMMANDS differ"
        );
        assert_eq!(agreements::SHELL, SHELL_COMMANDS);
    }

    #[test]
    fn build_rs_declared_the_same_device_commands_to_the_acl() {
        let declared: Vec<_> = env!("TONGHU_MANIFEST_COMMANDS").split(',').collect();
        assert_eq!(declared, field_app::COMMANDS);
    }
}
