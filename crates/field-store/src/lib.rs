//! The device: everything a child director's phone keeps and does without a network.
//!
//! - [`store`]: the store and the device's identity; [`open`]: opening the
//!   (SQLCipher-capable) database, migrations.
//! - [`clock`]: the device's sense of time (wall clock, the clock anchor of the last
//!   server contact on a monotonic clock).
//! - [`write`]: local writes with change capture — row, field clocks and outbox in one
//!   transaction.
//! - [`apply`]: applying pulled changes page by page with the cursor.
//! - [`outbox`]: unsent and rejected changes.
//! - [`fieldwork`]: what a director does (add a child, record a visit, sign an
//!   agreement), validated by the `domain` crate, written through [`write`].
//! - [`roster`] and [`child_file`]: the queries a director needs.
//! - [`tasks`]: the tasks the server writes (主动发现), their closing by the director, and
//!   the county's confirmation state of a child.
//! - [`check`]: a form's problems before it is saved, all at once.
//! - [`photo`] and [`blobs`]: the photo pipeline and content-addressed blobs.
//! - [`export`]: canonical JSON export and per-scope checksums.
//! - [`local`]: device-local state never synced: drafts and staged photos.
//! - [`release`]: whether a newer app version is offered (the server says so on pulls).
//! - [`retry`]: the device's one retry policy (back-off with jitter), used by the sync
//!   client and every caller.

pub mod apply;
pub mod blobs;
pub mod check;
pub mod child_file;
pub mod clock;
pub mod encryption;
pub mod error;
pub mod export;
pub mod fieldwork;
pub mod local;
pub mod open;
pub mod outbox;
pub mod photo;
pub mod record;
pub mod release;
pub mod retry;
pub mod roster;
pub mod status;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod write;

pub use error::{Result, StoreError};
pub use store::{OpenOptions, Store};
