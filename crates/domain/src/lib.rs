//! Tonghu's records in the users' own words (see DOMAIN.md): the child's file
//! (一人一档), guardians and the entrusted caregiver, visits, care agreements, photos,
//! referrals and tasks; their validation with messages in Chinese and English; the
//! visit-due policy; and the one declarative list of synced tables ([`schema`]).
//!
//! Pure: no I/O, no clock reads (today's date is always passed in).

#![warn(missing_docs)]

pub mod agreement;
pub mod child;
pub mod codes;
pub mod due;
pub mod error;
pub mod guardian;
pub mod id_number;
pub mod labels;
pub mod photo;
pub mod pinyin;
mod record;
pub mod referral;
pub mod schema;
pub mod task;
pub mod visit;

pub use agreement::{
    canonical_text, ensure_draft_editable, ensure_signature_bound, missing_signers, text_sha256,
    AgreementChild, AgreementDraft, AgreementTerms, AgreementVersion, Caregiver, EmergencyContact,
    Principal, Signature, Witness,
};
pub use child::{Child, Health, School};
pub use codes::*;
pub use due::{due_status, urgency_rank, DueFacts, DueStatus, VisitPolicy};
pub use error::DomainError;
pub use guardian::Guardian;
pub use id_number::{mask_id_number, normalize_id_number, parse_id_number, IdNumber};
pub use photo::Photo;
pub use pinyin::{name_initials, name_matches};
pub use record::{Fields, Void};
pub use referral::Referral;
pub use task::Task;
pub use visit::{Checklist, ChecklistItem, GpsFix, Visit};
