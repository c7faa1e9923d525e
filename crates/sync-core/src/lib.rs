//! The replication model of Tonghu, generic over tables: it knows nothing of children.
//!
//! Every synced row is a set of fields; every write to a field is a [`Change`] stamped
//! with a hybrid logical clock ([`Hlc`]) and the writing device. Replicas exchange
//! changes in any order, any number of times, and converge because the per-field
//! [merge rule](merge) is commutative, associative and idempotent. Which tables and
//! fields exist, and how values are typed, is data ([`schema`]) supplied by the
//! `domain` crate. [`checksum`] lets two replicas prove they hold the same state and
//! [`wire`] is the versioned push / pull / verify protocol.
//!
//! This crate does no I/O: the device store and the server build on it.

pub mod change;
pub mod checksum;
pub mod hlc;
pub mod merge;
pub mod schema;
pub mod wire;

pub use change::{Change, DeviceId, FieldKey, Scope, Stamp};
pub use checksum::ScopeChecksum;
pub use hlc::{ClockError, Hlc, HlcClock};
pub use merge::{merge_field, FieldState, MergeOutcome, Replica};
pub use schema::{FieldSpec, SchemaError, TableKind, TableSpec, ValueType};
