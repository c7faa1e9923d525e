//! What the UI can invoke: every device command, and one command of the shell's own.
//!
//! - [`device`]: every name in [`field_app::COMMANDS`] goes to the one dispatcher,
//!   `DeviceApp::call` — one route for the whole list rather than a wrapper per
//!   command, so the callable set is field-app's list by construction and a command
//!   added there needs nothing here.
//! - [`print`]: `save_agreement_pdf`, the printed agreement saved where the owner finds
//!   it (the only thing a browser cannot do with the bridge's answer).
//!
//! Which of these a page may call is decided before any of them runs, by Tauri's ACL:
//! `capabilities/default.json` allows exactly these commands to the main window.

pub mod device;
pub mod print;

use tauri::ipc::Invoke;
use tauri::Runtime;

/// The shell's own commands, besides the device's.
pub const SHELL_COMMANDS: &[&str] = &["save_agreement_pdf"];

/// The invoke handler: device commands to the dispatcher, the rest to the shell's.
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    let shell = typed::<R, _>(tauri::generate_handler![print::save_agreement_pdf]);
    move |invoke: Invoke<R>| {
        if device::is_device_command(invoke.message.command()) {
            device::run(invoke);
            true
        } else {
            shell(invoke)
        }
    }
}

/// Names the runtime of a handler closure (the macro's closure does not say it).
fn typed<R: Runtime, F: Fn(Invoke<R>) -> bool>(f: F) -> F {
    f
}
