//! The device's events, pushed to the window: `app_state` (locked, unlocked, wiped…),
//! `sync_state` and `sync_progress`, each with its JSON payload — the names the UI's
//! `listen` waits for and the bridge streams as server-sent events.

use field_app::{AppEvent, DeviceApp};
use tauri::{AppHandle, Emitter};

/// Emits every event of `device` to the app's windows from now on.
pub fn forward(device: &DeviceApp, app: AppHandle) {
    device.subscribe(std::sync::Arc::new(move |event: &AppEvent| {
        // A window that is gone has nobody to tell; the next command reads the state.
        let _ = app.emit(event.name(), event.data());
    }));
}
