//! The device API: what every shell of the field app calls — the Tauri app, the HTTP
//! bridge the same UI runs on in a browser, and `fieldctl`.
//!
//! - [`commands`]: the one list of commands (the device's, the app shell's) and the
//!   one dispatcher ([`DeviceApp::call`]); the UI's TypeScript and the Tauri app's
//!   permission are generated from it and [`events`] (the one list of events).
//! - [`types`]: every command's input and answer as plain data; [`UserError`] for
//!   every failure, in Chinese and English, its code an [`error::Code`].
//! - [`arguments`]: arguments read into their types, a misfit refused naming its
//!   field in Chinese.
//! - [`app`]: one phone's data folder: enrollment, PIN, lock, settings.
//! - [`enrolling`]: what enrollment keeps before the store exists (the device id, the
//!   server address), so that it is safe to repeat.
//! - [`lock`]: the data key, wrapped by a key derived from the PIN; wrong-PIN limits.
//! - [`work`]: the director's work (roster, child file, visits, agreements, sync);
//!   `forms` what a form becomes as a record's fields, for its save and for
//!   `check_draft` (every problem at once, and what the device fills in).
//! - [`tasks`]: the tasks the server writes (主动发现) — open ones with their age, one
//!   with the finding behind it, closing it.
//! - [`views`]: what the screens show, ID numbers masked here.
//! - [`runner`]: the background sync on its own thread and connection; `round` what
//!   a round leaves for the sync screen.
//!
//! A shell is a few lines: open a [`DeviceApp`], subscribe to its [`AppEvent`]s, and
//! pass each command name and its JSON arguments to [`DeviceApp::call`].

pub mod app;
pub mod arguments;
pub mod commands;
pub mod enrolling;
pub mod error;
pub mod events;
mod forms;
pub mod lock;
mod round;
pub mod runner;
pub mod settings;
mod task_views;
pub mod tasks;
pub mod types;
pub mod views;
pub mod vocabulary;
pub mod work;

pub use app::{AppConfig, DeviceApp, APP_VERSION};
pub use commands::{generated_files, write_generated, Request, COMMANDS, SHELL_COMMANDS};
pub use error::UserError;
pub use events::{AppEvent, EventSink, EVENTS};
pub use runner::RunnerConfig;
