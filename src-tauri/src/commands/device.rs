//! Every device command: `invoke(name, { args })` from the UI is
//! `DeviceApp::call(name, args)`, run off the event loop; the answer is the command's
//! result as JSON, a failure the `UserError` itself (`{code, zh, en, field}`), which
//! the UI's `invoke` rejects with.

use crate::Device;
use field_app::UserError;
use serde_json::Value;
use tauri::ipc::{Invoke, InvokeBody};
use tauri::{Manager, Runtime};

/// Whether `name` is one of the device API's commands.
pub fn is_device_command(name: &str) -> bool {
    field_app::COMMANDS.contains(&name)
}

/// Runs one device command on a blocking thread (SQLite, key derivation and photo
/// processing must not freeze the window) and answers the page.
pub fn run<R: Runtime>(invoke: Invoke<R>) {
    let Invoke {
        message, resolver, ..
    } = invoke;
    let name = message.command().to_string();
    let args = match message.payload() {
        InvokeBody::Json(body) => arguments(body),
        InvokeBody::Raw(_) => {
            return resolver.reject(UserError::bad_request(
                "a device command takes JSON arguments",
            ))
        }
    };
    let device = message.webview().state::<Device>().0.clone();
    tauri::async_runtime::spawn_blocking(move || match device.call(&name, args) {
        Ok(answer) => resolver.resolve(answer),
        Err(e) => resolver.reject(e),
    });
}

/// The command's arguments: the UI sends `{ args: {...} }`; none is `{}`.
fn arguments(body: &Value) -> Value {
    body.get("args").cloned().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_arguments_are_what_the_ui_sends_under_args() {
        assert_eq!(arguments(&json!({"args": {"pin": "428613"}})), json!({"pin": "428613"}));
        // app_state() sends `{ args: {} }`; a bare invoke sends nothing: both are "no arguments".
        assert_eq!(arguments(&json!({"args": {}})), json!({}));
        assert_eq!(arguments(&json!({})), Value::Null);
    }

    #[test]
    fn only_the_device_api_s_commands_are_routed_to_it() {
        for c in field_app::COMMANDS {
            assert!(is_device_command(c));
        }
        assert!(!is_device_command("save_agreement_pdf"));
        assert!(!is_device_command("plugin:fs|read_file"));
        assert!(!is_device_command(""));
    }
}
