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
pub mod consent;
pub mod due;
pub mod error;
pub mod guardian;
pub mod id_number;
pub mod labels;
pub mod normalize;
pub mod photo;
pub mod pinyin;
mod record;
pub mod referral;
pub mod rejection;
pub mod schema;
pub mod task;
pub mod visit;

pub use agreement::{
    canonical_text, ensure_draft_editable, ensure_signature_bound, missing_signers, text_sha256,
    AgreementChild, AgreementDraft, AgreementTerms, AgreementVersion, Caregiver, EmergencyContact,
    Principal, Signature, Witness,
};
pub use child::{duplicate_id_number, Child, Health, School};
pub use codes::*;
pub use consent::Consent;
pub use due::{due_status, urgency_rank, DueFacts, DueStatus, VisitPolicy};
pub use error::DomainError;
pub use guardian::Guardian;
pub use id_number::{mask_id_number, normalize_id_number, parse_id_number, IdNumber};
pub use photo::Photo;
pub use pinyin::{name_initials, name_matches};
pub use record::{village_not_held, Fields, Void};
pub use referral::Referral;
pub use task::Task;
pub use visit::{Checklist, ChecklistItem, GpsFix, Visit};

/// The whole-record rules for a row of `table` as it will be stored: its fields read
/// and type-checked against the schema, then the record's own rules (dates, the
/// checklist, an emergency's report, …). One entry point for the device's write path;
/// a table without record rules (none today) passes.
pub fn validate_row(
    table: &str,
    fields: &Fields,
    today: chrono::NaiveDate,
) -> Result<(), DomainError> {
    match table {
        "child" => Child::from_fields(fields)?.check_rules(today),
        "guardian" => Guardian::from_fields(fields)?.check_rules(today),
        "visit" => Visit::from_fields(fields)?.check_rules(today),
        "photo" => Photo::from_fields(fields)?.check_rules(today),
        "referral" => Referral::from_fields(fields)?.check_rules(today),
        "task" => Task::from_fields(fields)?.check_rules(today),
        "agreement_draft" => AgreementDraft::from_fields(fields)?.check_rules(today),
        "agreement_version" => AgreementVersion::from_fields(fields)?.check_rules(today),
        "signature" => Signature::from_fields(fields)?.check_rules(today),
        "consent" => Consent::from_fields(fields)?.check_rules(today),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn validate_row_checks_the_schema_then_the_record_rules() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 20).unwrap();
        let visit = crate::visit::tests::routine_visit();
        let mut fields = visit.to_fields();
        fields.retain(|_, v| !v.is_null());
        assert_eq!(validate_row("visit", &fields, today), Ok(()));
        assert_eq!(validate_row("visit", &fields, today), visit.validate(today));

        let mut bad_code = fields.clone();
        bad_code.insert("mode".into(), Value::from("by_pigeon"));
        assert!(validate_row("visit", &bad_code, today).is_err());
        assert!(Visit::from_fields(&bad_code).is_err(), "a schema error");

        let mut emergency = fields.clone();
        emergency.insert("emergency".into(), Value::Bool(true));
        let e = validate_row("visit", &emergency, today).unwrap_err();
        assert_eq!(
            e.code, "emergency_needs_report",
            "a record rule, after the schema"
        );
        assert_eq!(
            Visit::from_fields(&emergency)
                .unwrap()
                .validate(today)
                .unwrap_err()
                .code,
            e.code
        );
    }
}
