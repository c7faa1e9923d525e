//! The one declarative list of synced tables and fields. The device validates every
//! local write against it and the server validates every pushed change against it;
//! nothing else decides what a valid change looks like.
//!
//! Scope: every row belongs to one village (its scope, a village code). For `child` and
//! `task` the scope is the value of their `village_code` field; every other table names
//! its child with `child_id` and lives in that child's village. A change carries the scope of its
//! row after the change, so a change of `child.village_code` (a child moving village)
//! carries the new village.

use sync_core::schema::{FieldSpec as F, TableKind, TableSpec, ValueType as T};

/// Codes of the child categories (a child may carry several). See DOMAIN.md.
pub const CATEGORY_CODES: &[&str] = &[
    "institution_orphan",   // 机构养育孤儿
    "community_orphan",     // 社会散居孤儿
    "de_facto_unsupported", // 事实无人抚养儿童
    "key_difficulty",       // 重点困境儿童
    "difficulty",           // 困境儿童
    "left_behind",          // 农村留守儿童
];
/// Codes of a child's sex.
pub const SEX_CODES: &[&str] = &["male", "female"];
/// Codes of the risk colours, most urgent first.
pub const RISK_CODES: &[&str] = &["red", "yellow", "blue", "green"];
/// Codes of the guardianship rating (较好 / 一般 / 差).
pub const GUARDIANSHIP_RATING_CODES: &[&str] = &["good", "fair", "poor"];
/// Codes of a child's roster status.
pub const CHILD_STATUS_CODES: &[&str] = &["active", "exited"];
/// Codes of the reasons a child leaves the roster.
pub const EXIT_REASON_CODES: &[&str] = &[
    "turned_18",
    "moved_away",
    "parent_returned",
    "died",
    "adopted",
    "no_longer_eligible",
    "other",
];
/// Codes of the assistance a family receives.
pub const ASSISTANCE_CODES: &[&str] = &["dibao", "tekun", "temporary_relief", "medical_relief"];
/// Codes of who a guardian row is to the child.
pub const GUARDIAN_ROLE_CODES: &[&str] = &[
    "father",
    "mother",
    "grandparent",
    "entrusted_caregiver",
    "other_guardian",
];
/// Codes of where a parent or guardian is.
pub const WHEREABOUTS_CODES: &[&str] = &[
    "at_home",
    "away_working",
    "severely_disabled",
    "seriously_ill",
    "imprisoned",
    "drug_rehab",
    "deprived_of_liberty",
    "missing",
    "guardianship_revoked",
    "deported",
    "deceased",
];
/// Codes of the visit modes.
pub const VISIT_MODE_CODES: &[&str] = &["home", "phone", "wechat_video", "school"];
/// Codes of the actions taken on a visit.
pub const VISIT_ACTION_CODES: &[&str] = &["resolved_on_spot", "referral", "mandatory_report"];
/// Codes of who signs a care agreement.
pub const SIGNER_ROLE_CODES: &[&str] = &["principal", "caregiver", "witness"];
/// Codes of a care agreement draft's state.
pub const AGREEMENT_STATUS_CODES: &[&str] = &["draft", "signed", "abandoned"];
/// Codes of the referral kinds, by receiving body.
pub const REFERRAL_KIND_CODES: &[&str] = &[
    "missing_guardianship",      // → civil affairs temporary guardianship
    "out_of_school",             // → education bureau and school
    "no_household_registration", // → police household office
    "harm_or_abuse",             // → police (mandatory report)
    "other",
];
/// Codes of the kinds of task.
pub const TASK_KIND_CODES: &[&str] =
    &["check_listed_minor", "first_visit", "winter_visit", "other"];

const NAME: T = T::Text { max_chars: 40 };
const SHORT: T = T::Text { max_chars: 200 };
const NOTE: T = T::Text { max_chars: 2000 };
const HASH: T = T::Text { max_chars: 64 };
const SMALL_JSON: T = T::Json { max_bytes: 4096 };
/// A signature's pen strokes as captured: `{"w", "h", "strokes": [[[x, y, t], …], …]}`.
const STROKES: T = T::Json { max_bytes: 32_768 };

/// Soft delete of a mutable row. Legal records are never purged.
pub const TOMBSTONE_FIELD: &str = "deleted";
/// The void of an append-only row: `{"reason": "...", "by": "..."}`.
pub const VOID_FIELD: &str = "voided";
/// The field whose value is a child's scope.
pub const SCOPE_FIELD: &str = "village_code";

const TOMBSTONE: F = F::new(TOMBSTONE_FIELD, T::Bool);
const VOIDED: F = F::new(VOID_FIELD, SMALL_JSON).nullable().after_creation();

/// 一人一档: the child's file.
pub const CHILD: TableSpec = TableSpec {
    name: "child",
    kind: TableKind::Mutable,
    fields: &[
        F::new("name", NAME),
        F::new("sex", T::Code(SEX_CODES)),
        F::new("ethnicity", T::Text { max_chars: 20 }).nullable(),
        F::new("birth_date", T::Date),
        F::new("id_number", T::Text { max_chars: 18 }).nullable(),
        F::new("household_registered", T::Bool),
        F::new("registered_address", SHORT).nullable(),
        F::new("current_address", SHORT).nullable(),
        F::new(SCOPE_FIELD, T::Text { max_chars: 20 }),
        F::new("health", SMALL_JSON).nullable(),
        F::new("school", SMALL_JSON).nullable(),
        F::new("categories", T::CodeSet(CATEGORY_CODES)),
        F::new("guardianship_rating", T::Code(GUARDIANSHIP_RATING_CODES)).nullable(),
        F::new("risk_colour", T::Code(RISK_CODES)),
        F::new("assistance", T::CodeSet(ASSISTANCE_CODES)).nullable(),
        F::new("status", T::Code(CHILD_STATUS_CODES)),
        F::new("exit_reason", T::Code(EXIT_REASON_CODES)).nullable(),
        F::new("exit_date", T::Date).nullable(),
        F::new("added_on", T::Date),
        F::new("notes", NOTE).nullable(),
        TOMBSTONE,
    ],
};

/// Parents, grandparents, the entrusted caregiver: one row each.
pub const GUARDIAN: TableSpec = TableSpec {
    name: "guardian",
    kind: TableKind::Mutable,
    fields: &[
        F::new("child_id", T::RowRef),
        F::new("role", T::Code(GUARDIAN_ROLE_CODES)),
        F::new("name", NAME),
        F::new("id_number", T::Text { max_chars: 18 }).nullable(),
        F::new("relationship", T::Text { max_chars: 20 }).nullable(),
        F::new("phone", T::Text { max_chars: 20 }).nullable(),
        F::new("whereabouts", T::Code(WHEREABOUTS_CODES)).nullable(),
        F::new("work_location", SHORT).nullable(),
        F::new("health", SHORT).nullable(),
        F::new("address", SHORT).nullable(),
        TOMBSTONE,
    ],
};

/// 走访记录: written once, voided with a reason, never edited.
pub const VISIT: TableSpec = TableSpec {
    name: "visit",
    kind: TableKind::AppendOnly,
    fields: &[
        F::new("child_id", T::RowRef),
        F::new("visited_at", T::Text { max_chars: 32 }),
        F::new("mode", T::Code(VISIT_MODE_CODES)),
        F::new("people_present", SHORT).nullable(),
        F::new("visitor", NAME),
        F::new("gps", T::Json { max_bytes: 256 }).nullable(),
        F::new("checklist", SMALL_JSON),
        F::new("risk_colour", T::Code(RISK_CODES)),
        F::new("emergency", T::Bool),
        F::new("problems", NOTE).nullable(),
        F::new("actions", T::CodeSet(VISIT_ACTION_CODES)),
        F::new("next_due_on", T::Date).nullable(),
        F::new("narrative", NOTE).nullable(),
        VOIDED,
    ],
};

/// A photo's metadata; the image itself is a blob named by its SHA-256.
pub const PHOTO: TableSpec = TableSpec {
    name: "photo",
    kind: TableKind::AppendOnly,
    fields: &[
        F::new("child_id", T::RowRef),
        F::new("visit_id", T::RowRef).nullable(),
        F::new("blob_sha256", HASH),
        F::new("thumb_sha256", HASH),
        F::new(
            "width",
            T::Integer {
                min: 1,
                max: 20_000,
            },
        ),
        F::new(
            "height",
            T::Integer {
                min: 1,
                max: 20_000,
            },
        ),
        F::new(
            "bytes",
            T::Integer {
                min: 1,
                max: 10_000_000,
            },
        ),
        F::new("taken_at", T::Text { max_chars: 32 }),
        VOIDED,
    ],
};

/// A care agreement while it is being drafted: mutable like any row.
pub const AGREEMENT_DRAFT: TableSpec = TableSpec {
    name: "agreement_draft",
    kind: TableKind::Mutable,
    fields: &[
        F::new("child_id", T::RowRef),
        F::new("terms", T::Json { max_bytes: 16_384 }),
        F::new("status", T::Code(AGREEMENT_STATUS_CODES)),
        TOMBSTONE,
    ],
};

/// A signed care agreement version: an immutable snapshot of the canonical text and its
/// SHA-256. An amendment is a new version.
pub const AGREEMENT_VERSION: TableSpec = TableSpec {
    name: "agreement_version",
    kind: TableKind::AppendOnly,
    fields: &[
        F::new("child_id", T::RowRef),
        F::new("draft_id", T::RowRef),
        F::new("version", T::Integer { min: 1, max: 1000 }),
        F::new("canonical_text", T::Text { max_chars: 20_000 }),
        F::new("text_sha256", HASH),
        F::new("valid_from", T::Date),
        F::new("valid_until", T::Date),
        F::new("signed_at", T::Text { max_chars: 32 }),
        VOIDED,
    ],
};

/// One signature on one agreement version, bound to that version's text hash.
pub const SIGNATURE: TableSpec = TableSpec {
    name: "signature",
    kind: TableKind::AppendOnly,
    fields: &[
        F::new("child_id", T::RowRef),
        F::new("agreement_version_id", T::RowRef),
        F::new("signer_role", T::Code(SIGNER_ROLE_CODES)),
        F::new("signer_name", NAME),
        F::new("text_sha256", HASH),
        F::new("image_sha256", HASH),
        F::new("strokes", STROKES).nullable(),
        F::new("signed_at", T::Text { max_chars: 32 }),
        VOIDED,
    ],
};

/// 转介: a problem handed to the body that can solve it, tracked until closed.
pub const REFERRAL: TableSpec = TableSpec {
    name: "referral",
    kind: TableKind::Mutable,
    fields: &[
        F::new("child_id", T::RowRef),
        F::new("visit_id", T::RowRef).nullable(),
        F::new("kind", T::Code(REFERRAL_KIND_CODES)),
        F::new("receiving_body", SHORT),
        F::new("referred_on", T::Date),
        F::new("feedback_due_on", T::Date),
        F::new("outcome", NOTE).nullable(),
        F::new("closed_on", T::Date).nullable(),
        TOMBSTONE,
    ],
};

/// Work for a director: check a minor found on the 低保 list, a first visit, …
pub const TASK: TableSpec = TableSpec {
    name: "task",
    kind: TableKind::Mutable,
    fields: &[
        F::new("kind", T::Code(TASK_KIND_CODES)),
        F::new(SCOPE_FIELD, T::Text { max_chars: 20 }),
        F::new("child_id", T::RowRef).nullable(),
        F::new("title", SHORT),
        F::new("details", SMALL_JSON).nullable(),
        F::new("due_on", T::Date),
        F::new("done_on", T::Date).nullable(),
        TOMBSTONE,
    ],
};

/// 登记告知: a guardian's signed acknowledgement of the registration notice.
pub const CONSENT: TableSpec = TableSpec {
    name: "consent",
    kind: TableKind::AppendOnly,
    fields: &[
        F::new("child_id", T::RowRef),
        F::new("notice_version", T::Integer { min: 1, max: 1000 }),
        F::new("notice_sha256", HASH),
        F::new("signer_name", NAME),
        F::new("signer_role", T::Code(GUARDIAN_ROLE_CODES)),
        F::new("image_sha256", HASH),
        F::new("strokes", STROKES).nullable(),
        F::new("signed_at", T::Text { max_chars: 32 }),
        VOIDED,
    ],
};

/// Every synced table, in dependency order (a child before the rows that name it).
pub const TABLES: &[TableSpec] = &[
    CHILD,
    GUARDIAN,
    VISIT,
    PHOTO,
    AGREEMENT_DRAFT,
    AGREEMENT_VERSION,
    SIGNATURE,
    REFERRAL,
    TASK,
    CONSENT,
];

/// Looks up a synced table by name.
pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

/// Validates one change against the schema (table, field, value type, write-once).
pub fn validate_change(
    change: &sync_core::Change,
    row_exists: bool,
) -> Result<(), sync_core::SchemaError> {
    let spec = table(&change.table).ok_or_else(|| {
        sync_core::SchemaError::UnknownTable(change.table.chars().take(64).collect())
    })?;
    spec.validate(change, row_exists)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_knows_its_village() {
        for t in TABLES {
            let own_scope = t.field(SCOPE_FIELD).is_some();
            let follows_child = t.field("child_id").is_some_and(|f| !f.nullable);
            assert!(
                own_scope || follows_child,
                "{} must name its village or its child so its scope is known",
                t.name
            );
        }
    }

    #[test]
    fn append_only_tables_can_only_be_voided_after_creation() {
        for t in TABLES.iter().filter(|t| t.kind == TableKind::AppendOnly) {
            let late: Vec<_> = t
                .fields
                .iter()
                .filter(|f| f.after_creation)
                .map(|f| f.name)
                .collect();
            assert_eq!(late, vec![VOID_FIELD], "{}", t.name);
        }
    }

    #[test]
    fn field_names_are_unique_per_table() {
        for t in TABLES {
            let mut names: Vec<_> = t.fields.iter().map(|f| f.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), t.fields.len(), "{}", t.name);
        }
    }
}
