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
/// Codes of the kinds of task. Active discovery's findings keep within
/// `check_listed_minor` (a minor not on the roster) and `other` (a finding on a child
/// already on file): a phone on the release before discovery reads a task with
/// `Task::from_fields` for its home screen, and an unknown kind would hide the task
/// there. The precise finding is inside `details` (see [`crate::discovery::Finding`]).
pub const TASK_KIND_CODES: &[&str] =
    &["check_listed_minor", "first_visit", "winter_visit", "other"];
/// Codes of how a director closed an active-discovery task.
pub const TASK_OUTCOME_CODES: &[&str] = &[
    "registered",         // 已登记为新儿童
    "linked",             // 已关联已有儿童档案
    "not_eligible",       // 不符合条件（写明原因）
    "not_found_or_moved", // 查无此人或已迁出（写明情况）
];

const NAME: T = T::Text { max_chars: 40 };
const SHORT: T = T::Text { max_chars: 200 };
const NOTE: T = T::Text { max_chars: 2000 };
const HASH: T = T::Text { max_chars: 64 };
const SMALL_JSON: T = T::Json { max_bytes: 4096 };
/// A signature's pen strokes as captured: `{"w", "h", "strokes": [[[x, y, t], …], …]}`.
const STROKES: T = T::Json { max_bytes: 32_768 };

/// Soft delete of a mutable row. Legal records are never purged.
pub const TOMBSTONE_FIELD: &str = "deleted";

/// Whether a row whose tombstone field holds `tombstone` is deleted: only `true` is (a
/// missing or `false` tombstone is a live row). The one soft-delete rule of the server.
pub fn is_deleted(tombstone: Option<&serde_json::Value>) -> bool {
    matches!(tombstone, Some(serde_json::Value::Bool(true)))
}
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
///
/// Tasks are written by the server (active discovery writes them as a replica of its
/// own): a director's phone may write only how the task was closed (`done_on`,
/// `outcome`, `outcome_note`, `outcome_child_id`); every other field is
/// [`FieldSpec::server_only`](sync_core::schema::FieldSpec::server_only).
pub const TASK: TableSpec = TableSpec {
    name: "task",
    kind: TableKind::Mutable,
    fields: &[
        F::new("kind", T::Code(TASK_KIND_CODES)).server_only(),
        F::new(SCOPE_FIELD, T::Text { max_chars: 20 }).server_only(),
        F::new("child_id", T::RowRef).nullable().server_only(),
        F::new("title", SHORT).server_only(),
        F::new("details", SMALL_JSON).nullable().server_only(),
        F::new("due_on", T::Date).server_only(),
        F::new("done_on", T::Date).nullable(),
        F::new("outcome", T::Code(TASK_OUTCOME_CODES)).nullable(),
        F::new("outcome_note", NOTE).nullable(),
        F::new("outcome_child_id", T::RowRef).nullable(),
        TOMBSTONE.server_only(),
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

/// 县级确认 (增员 / 变更 / 减员): the county civil-affairs office's last decision on a
/// child's place in care, one row per child (its id derived from the child's, see
/// [`crate::care::decision_row_id`]), written only by the server when a county admin
/// confirms or sends back in the console. A table of its own, not fields of `child`: a
/// phone on the release before it reads the child with `Child::from_fields`, which
/// refuses a field it does not know — the child's file would no longer open there,
/// while an unknown table is stored and passed on untouched. Whether a child is
/// awaiting confirmation is derived, never stored: [`crate::care::confirmation_state`].
pub const COUNTY_DECISION: TableSpec = TableSpec {
    name: "county_decision",
    kind: TableKind::Mutable,
    fields: &[
        F::new("child_id", T::RowRef).server_only(),
        // The last confirmation: `crate::care::Confirmed` as JSON.
        F::new("confirmed", SMALL_JSON).nullable().server_only(),
        // The last sending back: `crate::care::SentBack` as JSON.
        F::new("sent_back", SMALL_JSON).nullable().server_only(),
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
    COUNTY_DECISION,
];

/// Looks up a synced table by name.
pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

/// Whether `table.field` is written only by the server's own replica (unknown names:
/// false, the schema check refuses them on its own).
pub fn server_only(table_name: &str, field: &str) -> bool {
    table(table_name)
        .and_then(|t| t.field(field))
        .is_some_and(|f| f.server_only)
}

/// A row as this release reads it: only the fields the schema of `table_name` names
/// (an unknown table: none). A phone keeps, merges and passes on every field it is
/// sent — a newer release's server may hold fields this one does not know — but reads
/// and checks only these, so a field added later never makes a record unreadable or
/// an edit of a known field impossible on a phone that has not updated.
pub fn known_fields(table_name: &str, fields: &crate::Fields) -> crate::Fields {
    let Some(spec) = table(table_name) else {
        return crate::Fields::new();
    };
    fields
        .iter()
        .filter(|(name, _)| spec.field(name).is_some())
        .map(|(name, v)| (name.clone(), v.clone()))
        .collect()
}

/// The refusal of a device's change to a field only the server writes (see
/// [`server_only`]): said for the director, with what to do instead.
pub fn server_only_refusal(table_name: &str, field: &str) -> crate::DomainError {
    let what = crate::labels::field_label_zh(field);
    let table_zh = crate::labels::table_label_zh(table_name);
    crate::DomainError::new(
        "server_only",
        format!("“{table_zh}”的“{what}”由县（区）民政部门在服务器上填写，手机不能修改"),
        format!(
            "{} of a {} is written by the county office on the server; a phone may not change it",
            crate::labels::field_label_en(field),
            crate::labels::table_label_en(table_name)
        ),
    )
    .on_field(field)
}

/// A value typed as text (`--set phone=13800000000`, a spreadsheet cell) as the
/// schema types its field: text stays text (a phone number is not a number), whole
/// numbers and yes/no where the field wants them, JSON for lists and objects, `null`
/// to clear. Anything else is passed on as text, for the field's own check to refuse
/// in its own words.
pub fn value_from_text(table_name: &str, field: &str, raw: &str) -> serde_json::Value {
    use serde_json::Value;
    let ty = table(table_name).and_then(|t| t.field(field)).map(|f| f.ty);
    let parsed = serde_json::from_str::<Value>(raw).ok();
    match (ty, parsed) {
        (_, Some(Value::Null)) => Value::Null,
        (Some(T::Integer { .. }), Some(v @ Value::Number(_))) => v,
        (Some(T::Bool), Some(v @ Value::Bool(_))) => v,
        (Some(T::Json { .. } | T::CodeSet(_)), Some(v @ (Value::Array(_) | Value::Object(_)))) => v,
        (None, Some(v)) => v,
        _ => Value::String(raw.to_string()),
    }
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
    fn a_newer_release_s_fields_are_left_out_of_what_this_one_reads() {
        let mut row = crate::Fields::new();
        row.insert("title".into(), serde_json::json!("核查"));
        row.insert("outcome".into(), serde_json::json!("linked"));
        row.insert("added_in_a_later_release".into(), serde_json::json!(1));
        let known = known_fields("task", &row);
        let names: Vec<&str> = known.keys().map(String::as_str).collect();
        assert_eq!(names, ["outcome", "title"]);
        assert!(known_fields("a_later_table", &row).is_empty());
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
    fn a_director_writes_only_how_a_task_was_closed_and_nothing_of_a_county_decision() {
        let director: Vec<&str> = TASK
            .fields
            .iter()
            .filter(|f| !f.server_only)
            .map(|f| f.name)
            .collect();
        assert_eq!(
            director,
            ["done_on", "outcome", "outcome_note", "outcome_child_id"]
        );
        assert!(COUNTY_DECISION.fields.iter().all(|f| f.server_only));
        assert!(server_only("task", "details") && !server_only("task", "done_on"));
        assert!(server_only("county_decision", "confirmed"));
        assert!(!server_only("child", "categories") && !server_only("nope", "x"));
        let e = server_only_refusal("county_decision", "confirmed");
        assert_eq!(e.code, "server_only");
        assert!(
            e.zh.contains("县级确认") && e.zh.contains("手机不能修改"),
            "{}",
            e.zh
        );
        // No other table has a server-only field: phones write them as before.
        for t in TABLES
            .iter()
            .filter(|t| !["task", "county_decision"].contains(&t.name))
        {
            assert!(t.fields.iter().all(|f| !f.server_only), "{}", t.name);
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
