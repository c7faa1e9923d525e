//! The device API: what every shell of the field app calls — the Tauri app, the HTTP
//! bridge the same UI runs on in a browser, and `fieldctl`.
//!
//! - [`commands`]: the one list of commands and the one dispatcher
//!   ([`DeviceApp::call`]); TypeScript for the UI is generated from it.
//! - [`types`]: every command's input and answer as plain data; [`UserError`] for
//!   every failure, in Chinese and English.
//! - [`app`]: one phone's data folder: enrollment, PIN, lock, settings.
//! - [`enrolling`]: what enrollment keeps before the store exists (the device id, the
//!   server address), so that it is safe to repeat.
//! - [`lock`]: the data key, wrapped by a key derived from the PIN; wrong-PIN limits.
//! - [`work`]: the director's work (roster, child file, visits, agreements, sync).
//! - [`views`]: what the screens show, ID numbers masked here.
//! - [`runner`]: the background sync on its own thread and connection.
//!
//! A shell is a few lines: open a [`DeviceApp`], subscribe to its [`AppEvent`]s, and
//! pass each command name and its JSON arguments to [`DeviceApp::call`].

pub mod app;
pub mod commands;
pub mod enrolling;
pub mod error;
pub mod lock;
pub mod runner;
pub mod settings;
pub mod types;
pub mod views;
pub mod vocabulary;
pub mod work;

pub use app::{AppConfig, DeviceApp, EventSink, APP_VERSION};
pub use commands::{export_typescript, Request, COMMANDS};
pub use error::UserError;
pub use runner::RunnerConfig;
pub use types::AppEvent;
