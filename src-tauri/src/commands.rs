//! What the page can invoke: the device API's commands, every one through the one
//! dispatcher, and the shell's own (`save_agreement_pdf`). Both come from the one list
//! in `crates/field-app/src/commands.rs` ([`field_app::COMMANDS`],
//! [`field_app::SHELL_COMMANDS`]): a new device command needs no line here. Which of
//! them a page may call is decided before any runs, by Tauri's ACL
//! (`permissions/device-api.toml`, generated from the same list, granted to the main
//! window by `capabilities/default.json`).

use crate::printed::{self, SavedPdf};
use crate::Device;
use field_app::UserError;
use serde_json::Value;
use tauri::ipc::{Invoke, InvokeBody, InvokeError};
use tauri::{AppHandle, Manager, Runtime, State};

/// The app's invoke handler: a device command is `DeviceApp::call(name, args)` on a
/// blocking thread (SQLite, Argon2id and the photo pipeline never freeze the window),
/// answered with its result or its `UserError` (`{code, zh, en, field}`); `invoke(name,
/// { args })` passes `args`, `invoke(name)` passes none (`{}`). Anything else goes to
/// the shell's own commands.
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    let shell: Box<dyn Fn(Invoke<R>) -> bool + Send + Sync> =
        Box::new(tauri::generate_handler![save_agreement_pdf]);
    move |invoke: Invoke<R>| {
        let name = invoke.message.command();
        match field_app::COMMANDS.iter().find(|c| **c == name) {
            Some(&name) => {
                device_command(name, invoke);
                true
            }
            None => shell(invoke),
        }
    }
}

fn device_command<R: Runtime>(name: &'static str, invoke: Invoke<R>) {
    let Some(device) = invoke
        .message
        .webview()
        .try_state::<Device>()
        .map(|d| d.0.clone())
    else {
        invoke.resolver.reject(internal("the device is not open"));
        return;
    };
    let args = match invoke.message.payload() {
        InvokeBody::Json(v) => v.get("args").cloned().unwrap_or(Value::Null),
        InvokeBody::Raw(_) => {
            invoke
                .resolver
                .reject(UserError::bad_request("arguments must be JSON"));
            return;
        }
    };
    invoke
        .resolver
        .respond_async(async move { call(device, name, args).await.map_err(InvokeError::from) });
}

/// One device command, off the event loop.
async fn call(
    device: std::sync::Arc<field_app::DeviceApp>,
    name: &'static str,
    args: Value,
) -> Result<Value, UserError> {
    tauri::async_runtime::spawn_blocking(move || device.call(name, args))
        .await
        .map_err(|e| internal(e.to_string()))?
}

fn internal(e: impl Into<String>) -> UserError {
    UserError::new("internal", "应用内部出错，请重试", e.into())
}

/// The shell's own commands (the `shell` part of the one list).
pub fn shell_commands() -> &'static [&'static str] {
    &["save_agreement_pdf"]
}

/// `agreement_pdf` (same arguments, `{version_id}`), saved as a new file and opened
/// for printing on a desktop ([`printed`]); answers the `SavedPdf`.
#[tauri::command]
async fn save_agreement_pdf<R: Runtime>(
    app: AppHandle<R>,
    device: State<'_, Device>,
    args: Option<Value>,
) -> Result<SavedPdf, UserError> {
    let pdf = call(
        device.0.clone(),
        "agreement_pdf",
        args.unwrap_or(Value::Null),
    )
    .await?;
    let pdf = serde_json::from_value(pdf).map_err(printed::internal)?;
    tauri::async_runtime::spawn_blocking(move || printed::save(&app, pdf))
        .await
        .map_err(printed::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_implements_exactly_the_shell_commands_of_the_one_list() {
        assert_eq!(shell_commands(), field_app::SHELL_COMMANDS);
    }
}
