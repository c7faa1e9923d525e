//! Tonghu's records in the users' own words (see DOMAIN.md): the child's file
//! (一人一档), guardians and the entrusted caregiver, visits, care agreements, photos,
//! referrals and tasks; their validation with messages in Chinese and English; the
//! visit-due policy; and the one declarative list of synced tables ([`schema`]).
//!
//! Pure: no I/O, no clock reads (today's date is always passed in).

#![warn(missing_docs)]

pub mod agreement;
pub mod care;
pub mod child;
pub mod codes;
pub mod consent;
pub mod discovery;
pub mod due;
pub mod error;
pub mod guardian;
pub mod id_number;
pub mod labels;
pub mod normalize;
pub mod photo;
pub mod pinyin;
pub mod problems;
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
pub use care::{confirmation_state, ConfirmationState, CountyDecision, MonthlyRate};
pub use child::{duplicate_id_number, Child, Health, School};
pub use codes::*;
pub use consent::Consent;
pub use discovery::Finding;
pub use due::{due_status, urgency_rank, DueFacts, DueStatus, VisitPolicy};
pub use error::DomainError;
pub use guardian::Guardian;
pub use id_number::{
    mask_field_for_screen, mask_id_number, mask_id_numbers_in_text, normalize_id_number,
    parse_id_number, IdNumber,
};
pub use photo::Photo;
pub use pinyin::{name_initials, name_matches};
pub use problems::{Problem, Problems};
pub use record::{age_on, fill_defaults, village_not_held, Fields, Void};
pub use referral::Referral;
pub use task::{Task, TaskClosing};
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
        "county_decision" => CountyDecision::from_fields(fields).map(|_| ()),
        _ => Ok(()),
    }
}

/// Every problem of a row of `table` as a form holds it now, at once, blocking or
/// only a warning: what the device's `check_draft` answers before anything is saved
/// or signed. First the schema (each field's type, unknown fields, each field
/// required), the checks a field can have on its own (an ID number's check digit, a
/// checklist's areas) and, once the fields are readable, the record's own rules
/// (dates, an emergency's report, a red child's next visit, …) — the same rules a
/// save refuses with ([`validate_row`]).
pub fn row_problems(table: &str, fields: &Fields, today: chrono::NaiveDate) -> Problems {
    let mut p = Problems::new();
    let Some(spec) = schema::table(table) else {
        p.block(sync_core::SchemaError::UnknownTable(table.chars().take(64).collect()).into());
        return p;
    };
    for k in fields.keys().filter(|k| spec.field(k).is_none()) {
        p.block(
            sync_core::SchemaError::UnknownField {
                table: table.to_string(),
                field: k.chars().take(64).collect(),
            }
            .into(),
        );
    }
    let mut complete = fields.clone();
    if spec.field(schema::TOMBSTONE_FIELD).is_some() {
        complete
            .entry(schema::TOMBSTONE_FIELD)
            .or_insert(serde_json::Value::Bool(false));
    }
    for f in spec.fields {
        let v = complete.get(f.name).unwrap_or(&serde_json::Value::Null);
        if table == "visit" && f.name == "checklist" && !v.is_null() {
            p.extend(Checklist::draft_problems(v));
            continue;
        }
        if let Err(problem) = f.check_value(v) {
            if v.is_null() {
                p.block(
                    DomainError::new(
                        "required",
                        format!("请填写“{}”", labels::field_label_zh(f.name)),
                        format!("{} is required", labels::field_label_en(f.name)),
                    )
                    .on_field(f.name),
                );
            } else {
                p.block(record::schema_problem(spec, f, v, problem));
            }
            continue;
        }
        if id_number::is_id_number_field(f.name) {
            if let Some(id) = v.as_str().filter(|s| !s.trim().is_empty()) {
                p.take(parse_id_number(id, today));
            }
        }
    }
    if !p.none_blocking() {
        return p;
    }
    let rules = match table {
        "child" => Child::from_fields(&complete).map(|c| c.problems(today)),
        "visit" => Visit::from_fields(&complete).map(|v| v.problems(today)),
        "agreement_draft" => AgreementDraft::from_fields(&complete).map(|d| {
            let mut p = Problems::new();
            p.check(d.check_rules(today));
            p.extend(d.terms.signing_problems(today));
            p
        }),
        other => validate_row(other, &complete, today).map(|()| Problems::new()),
    };
    match rules {
        Ok(rules) => {
            for r in rules.0 {
                // Said once: a problem the field checks above already named.
                if !p
                    .0
                    .iter()
                    .any(|q| q.error.code == r.error.code && q.error.field == r.error.field)
                {
                    p.0.push(r);
                }
            }
        }
        Err(e) => p.block(e),
    }
    p
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
