//! The device's events: what happened that a screen should reflect, pushed to every
//! shell (Tauri's `emit`, the bridge's server-sent events, `fieldctl`'s progress bar).
//! The one list of them is here, next to their data types' module; the UI's `Events`
//! map and `EVENTS` names are generated from it with the commands
//! ([`crate::commands::generated_files`]).

use crate::types::*;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use ts_rs::TS;

macro_rules! events {
    ($( $(#[doc = $doc:literal])* $name:ident => $variant:ident ( $data:ty ) ; )*) => {
        /// Something that happened that a screen should reflect.
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, TS)]
        #[serde(tag = "event", content = "data", rename_all = "snake_case")]
        pub enum AppEvent {
            $( $(#[doc = $doc])* $variant($data), )*
        }

        /// Every event's name.
        pub const EVENTS: &[&str] = &[$(stringify!($name)),*];

        impl AppEvent {
            /// The event's name on the wire (`app_state`, `sync_state`, …).
            pub fn name(&self) -> &'static str {
                match self { $( AppEvent::$variant(_) => stringify!($name), )* }
            }

            /// The event's payload as JSON.
            pub fn data(&self) -> Value {
                match self { $( AppEvent::$variant(d) => serde_json::to_value(d), )* }
                    .unwrap_or(Value::Null)
            }
        }

        /// Every event as the generator sees it.
        pub(crate) fn catalogue(cfg: &ts_rs::Config) -> Vec<EventEntry> {
            vec![$( EventEntry {
                name: stringify!($name),
                doc: vec![$($doc),*],
                data: <$data as TS>::name(cfg),
            }, )*]
        }

        /// Writes the events' data types (and `AppEvent`) as TypeScript.
        pub(crate) fn export(cfg: &ts_rs::Config) -> Result<(), String> {
            $( <$data as TS>::export_all(cfg).map_err(|e| e.to_string())?; )*
            <AppEvent as TS>::export_all(cfg).map_err(|e| e.to_string())
        }
    };
}

/// One event for the generator.
pub(crate) struct EventEntry {
    pub name: &'static str,
    pub doc: Vec<&'static str>,
    pub data: String,
}

events! {
    /// The app locked, unlocked, enrolled, was wiped…
    app_state => AppState(AppState);
    /// Sync state changed (a round started or ended, records were saved).
    sync_state => SyncState(SyncState);
    /// A round in flight moved on (or waits before a retry).
    sync_progress => SyncProgress(SyncProgressView);
}

/// Something that wants to hear about [`AppEvent`]s (the Tauri shell emits them to the
/// window, the bridge streams them as server-sent events).
pub type EventSink = Arc<dyn Fn(&AppEvent) + Send + Sync>;

/// Tells every sink of `sinks` about `event`.
pub(crate) fn emit_to(sinks: &Mutex<Vec<EventSink>>, event: &AppEvent) {
    let sinks: Vec<EventSink> = match sinks.lock() {
        Ok(s) => s.clone(),
        Err(p) => p.into_inner().clone(),
    };
    for sink in sinks {
        sink(event);
    }
}
