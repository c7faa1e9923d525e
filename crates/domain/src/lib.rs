//! Tonghu's records in the users' own words (see DOMAIN.md): the child's file
//! (一人一档), guardians and the entrusted caregiver, visits, care agreements, photos,
//! referrals and tasks; their validation with messages in Chinese and English; the
//! visit-due policy; and the one declarative list of synced tables ([`schema`]).
//!
//! Pure: no I/O, no clock reads (today's date is always passed in).

pub mod error;
pub mod labels;
pub mod schema;

pub use error::DomainError;
