//! Care agreements: the draft, the text it would be signed with, signing, the locked
//! version and its printable PDF — and the shell's own `save_agreement_pdf`, which
//! keeps that PDF as a file (`crate::printed`) because a webview cannot download it.

use crate::printed::{self, SavedPdf};
use crate::Device;
use field_app::UserError;
use serde_json::Value;
use tauri::{AppHandle, Runtime, State};

super::device_commands! {
    save_agreement_draft, agreement_preview, sign_agreement, agreement, agreement_pdf,
}

/// The shell's own commands in this area.
pub const SHELL: &[&str] = &["save_agreement_pdf"];

/// `agreement_pdf` (same arguments, `{version_id}`), saved as a new file and opened
/// for printing on a desktop; answers the `PdfFile` and the saved file's path.
#[tauri::command]
async fn save_agreement_pdf<R: Runtime>(
    app: AppHandle<R>,
    device: State<'_, Device>,
    args: Option<Value>,
) -> Result<SavedPdf, UserError> {
    let pdf = super::call(&device, "agreement_pdf", args).await?;
    let pdf = serde_json::from_value(pdf).map_err(printed::internal)?;
    tauri::async_runtime::spawn_blocking(move || printed::save(&app, pdf))
        .await
        .map_err(printed::internal)?
}

/// Runs the shell's own commands of this area.
pub fn shell_handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync {
    tauri::generate_handler![save_agreement_pdf]
}
