//! The main window, and locking the app when it goes to the background.
//!
//! Hidden or minimised on a desktop, paused on a phone: the device is locked (its key
//! erased from memory) through the same `lock` command the UI calls. The UI also locks
//! on `visibilitychange`; `lock` is idempotent (a second call finds nothing open and
//! emits nothing), so both firing together is harmless.

use crate::Device;
use tauri::{App, Manager, Runtime, WebviewWindowBuilder, Window, WindowEvent};

/// Opens the main window from `tauri.conf.json` (created here, not by Tauri, so its
/// webview can be held to the app's own pages: no navigation away, no new windows, no
/// downloads — the printed agreement is saved by `save_agreement_pdf`).
pub fn main_window<R: Runtime>(app: &mut App<R>) -> tauri::Result<()> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == "main")
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    let builder = WebviewWindowBuilder::from_config(app.handle(), &config)?
        .on_navigation(|url| is_app_page(url.as_str()))
        .on_download(|_, _| false);
    #[cfg(desktop)]
    let builder = builder.on_new_window(|_, _| tauri::webview::NewWindowResponse::Deny);
    let window = builder.build()?;
    let w = window.as_ref().window();
    window.on_window_event(move |event| {
        if goes_to_background(&w, event) {
            lock(&w);
        }
    });
    Ok(())
}

/// Whether a URL is one of the app's own pages (Tauri serves them from `tauri://` on
/// Linux, macOS and iOS, `http(s)://tauri.localhost` on Windows and Android), or the
/// Vite dev server in `tauri dev`.
pub fn is_app_page(url: &str) -> bool {
    url.starts_with("tauri://localhost")
        || url.starts_with("http://tauri.localhost")
        || url.starts_with("https://tauri.localhost")
        || (cfg!(debug_assertions) && url.starts_with("http://127.0.0.1:5173"))
}

/// Whether `event` means the app can no longer be seen.
fn goes_to_background<R: Runtime>(window: &Window<R>, event: &WindowEvent) -> bool {
    match event {
        #[cfg(mobile)]
        WindowEvent::Suspended => true,
        #[cfg(desktop)]
        WindowEvent::Focused(false) | WindowEvent::Resized(_) => {
            window.is_minimized().unwrap_or(false) || !window.is_visible().unwrap_or(true)
        }
        _ => {
            let _ = window;
            false
        }
    }
}

/// Locks the device off the event loop (a command in flight holds the device's lock;
/// the window must not wait for it).
fn lock<R: Runtime>(window: &Window<R>) {
    let device = window.state::<Device>().0.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let _ = device.call("lock", serde_json::json!({}));
    });
}
