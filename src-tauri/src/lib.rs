//! The Tonghu field app: a Tauri v2 shell over the device API (`field-app`).
//!
//! The shell holds no business logic. It opens one [`field_app::DeviceApp`] on the
//! app's data folder (Tauri's path API), passes every command the UI invokes to
//! [`DeviceApp::call`](field_app::DeviceApp::call) ([`commands`]), emits every
//! [`field_app::AppEvent`] to the window under its name ([`events`]), and locks the app
//! when it goes to the background ([`background`]). The one thing only a shell can do
//! — put the family's printed agreement where the phone's owner finds it — is
//! [`printed`], reached by the shell's own command `save_agreement_pdf`.
//!
//! The same library is the desktop binary (`main.rs`), the Android `cdylib` and the
//! iOS `staticlib`.

pub mod background;
pub mod commands;
pub mod events;
pub mod printed;

use field_app::{AppConfig, DeviceApp};
use std::path::PathBuf;
use std::sync::Arc;
use tauri::Manager;

/// The device the commands run against: managed state of the Tauri app.
pub struct Device(pub Arc<DeviceApp>);

/// Where a bundled CJK font for printed agreements is looked for among the app's
/// resources (shipped on Android and iOS, which have no usable system font file).
pub const BUNDLED_FONT: &str = "fonts/NotoSansCJKsc-Regular.otf";

/// The app's entry point on every platform.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tauri::Builder::default()
        .invoke_handler(commands::handler())
        .setup(|app| {
            let dir = device_dir(app.handle())?;
            let config = AppConfig {
                font_path: bundled_font(app.handle()),
                ..AppConfig::default()
            };
            let device = DeviceApp::open(&dir, config).map_err(|e| e.en)?;
            events::forward(&device, app.handle().clone());
            app.manage(Device(device));
            background::main_window(app)?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the Tonghu app could not start")
        .run(|_, _| {});
}

/// The phone's data folder: `device` in the app's data folder (Tauri's path API: the
/// app's private storage on Android and iOS). On a desktop `TONGHU_DEVICE_DIR`
/// chooses another, as it does for the bridge and `fieldctl` (`scripts/run.sh`, the
/// tauri-driver test).
fn device_dir(app: &tauri::AppHandle) -> tauri::Result<PathBuf> {
    #[cfg(desktop)]
    if let Some(dir) = std::env::var_os("TONGHU_DEVICE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(app.path().app_data_dir()?.join("device"))
}

/// The bundled font, when the app ships one as a resource; `None` lets the device
/// use the system's (Debian's fonts-noto-cjk, a desktop's own).
fn bundled_font(app: &tauri::AppHandle) -> Option<PathBuf> {
    app.path()
        .resolve(BUNDLED_FONT, tauri::path::BaseDirectory::Resource)
        .ok()
        .filter(|p| p.is_file())
}
