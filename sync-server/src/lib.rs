//! Tonghu's sync server (library part): the HTTP API devices sync with, the storage
//! behind it, and the admin operations. The binary (`src/main.rs`) is a thin CLI over
//! this crate.
//!
//! The ground floor is [`model`] (roles, accounts, the principal, the clock); everything
//! else stands on it. A request travels `router` → `handlers::<area>` → the role traits
//! of [`store`] (`AccountStore`, `SyncStore`, `BlobUploads`) → `store::{sqlite,
//! postgres}`; the rules of ingest live once in [`ingest`], enrollment once in
//! [`enrollment`]. Blobs go through [`blobs`] to a [`blobs::BlobStore`].

pub mod auth;
pub mod bench;
pub mod bench_console;
pub mod bench_discovery;
pub mod blobs;
pub mod console;
pub mod demo;
pub mod discovery;
pub mod enrollment;
pub mod error;
pub mod handlers;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod one_file;
pub mod provision;
pub mod roster;
pub mod router;
pub mod server;
pub mod settings;
pub mod store;
