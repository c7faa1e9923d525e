//! What each form's arguments become as a record's fields — once, for the command that
//! saves it (`record_visit`, `add_child`, `save_agreement_draft`) and for
//! `check_draft`, which answers the same form's problems before anything is saved or
//! signed. The device fills what the domain fills (defaults, the next visit by the
//! rule, sex and birth date read from the ID number, the agreement's witness) and says
//! what it filled, so the form can show it.

use crate::error::UserError;
use crate::types::*;
use domain::Problems;
use field_store::Store;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// A form as fields of its record, with what the device filled in and the problems
/// found while reading it (the record's own rules come after, from the store).
pub(crate) struct Form {
    pub fields: Map<String, Value>,
    pub filled: Map<String, Value>,
    pub problems: Problems,
}

impl Form {
    fn new(fields: Map<String, Value>) -> Form {
        Form {
            fields,
            filled: Map::new(),
            problems: Problems::new(),
        }
    }

    /// Puts `value` into `field` where the form left it empty, and says so.
    fn fill(&mut self, field: &str, value: Value) {
        if self.fields.get(field).is_none_or(Value::is_null) {
            self.fields.insert(field.to_string(), value.clone());
            self.filled.insert(field.to_string(), value);
        }
    }

    /// Fills each of the domain's defaults the form left empty (not told as filled:
    /// they are what a new record is).
    fn defaults(&mut self, defaults: domain::Fields) {
        domain::fill_defaults(&mut self.fields, defaults);
    }
}

/// The form's own values: blank text and `null` left out (the domain fills or asks
/// for them), text trimmed, the arguments that are not fields of the record removed.
fn values(draft: &Map<String, Value>, not_fields: &[&str]) -> Map<String, Value> {
    draft
        .iter()
        .filter(|(k, _)| !not_fields.contains(&k.as_str()))
        .filter_map(|(k, v)| match v {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some((k.clone(), Value::String(s.trim().to_string()))),
            other => Some((k.clone(), other.clone())),
        })
        .collect()
}

/// The enrolled account (the director), for the domain's default visitor name and the
/// agreement's witness.
pub(crate) fn account(store: &Store) -> Option<String> {
    store
        .connection()
        .query_row("SELECT account_id FROM device WHERE id = 1", [], |r| {
            r.get::<_, Option<String>>(0)
        })
        .ok()
        .flatten()
}

/// A visit form (`record_visit`'s arguments).
pub(crate) fn visit(s: &Store, draft: &Map<String, Value>) -> Result<Form, UserError> {
    let mut form = Form::new(values(
        draft,
        &["referral", "photo_ids", "photos", "draft_key"],
    ));
    let has_referral = draft.get("referral").is_some_and(|r| !r.is_null());
    let ticked = draft
        .get("actions")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "referral"));
    if has_referral && !ticked {
        form.problems.block(
            domain::DomainError::new(
                "referral_needs_action",
                "填写了转介，请在处置措施中勾选“转介”",
                "a referral was filled in; tick the referral action too",
            )
            .on_field("actions"),
        );
    }
    // The referral made on this visit, checked as the record it becomes.
    if let Some(r) = draft.get("referral").filter(|r| r.is_object()) {
        let mut m = referral_fields(s, r);
        if let Some(c) = draft.get("child_id").filter(|c| !c.is_null()) {
            m.insert("child_id".into(), c.clone());
        }
        for mut p in s.draft_problems("referral", &m)?.0 {
            // The visit names the child: a referral's own child is never the problem.
            if p.error.field.as_deref() == Some("child_id") {
                continue;
            }
            p.error.field = Some(match p.error.field.take() {
                Some(f) => format!("referral.{f}"),
                None => "referral".into(),
            });
            form.problems.0.push(p);
        }
    }
    form.defaults(domain::Visit::defaults(
        &s.now_china_rfc3339(),
        account(s).as_deref(),
    ));
    // The next visit by the rule, for every colour alike (red within 31 days).
    let child = form
        .fields
        .get("child_id")
        .and_then(Value::as_str)
        .and_then(|c| Uuid::parse_str(c).ok());
    let day = form
        .fields
        .get("visited_at")
        .and_then(Value::as_str)
        .map(|t| domain::normalize::normalize_timestamp(t).into_owned())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.date_naive());
    let risk = form
        .fields
        .get("risk_colour")
        .and_then(Value::as_str)
        .and_then(domain::RiskColour::from_code);
    if let (Some(child), Some(day), Some(risk)) = (child, day, risk) {
        if let Some(next) = s.next_visit_by_rule(child, day, risk)? {
            form.fill("next_due_on", json!(next.to_string()));
        }
    }
    Ok(form)
}

/// A referral made on a visit as the record it becomes (`record_visit` keeps it so;
/// `check_draft` checks it so).
pub(crate) fn referral_fields(s: &Store, r: &Value) -> Map<String, Value> {
    let text = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
    };
    let mut m = Map::new();
    for k in ["kind", "receiving_body", "referred_on", "feedback_due_on"] {
        if !text(k).is_empty() {
            m.insert(k.into(), json!(text(k)));
        }
    }
    domain::fill_defaults(&mut m, domain::Referral::defaults(s.today()));
    m
}

/// A registration form (`add_child`'s arguments).
pub(crate) fn child(s: &Store, draft: &Map<String, Value>) -> Form {
    let mut form = Form::new(values(draft, &["consent", "task_id"]));
    // Registered from a task: the finding's ID number, shown masked, sent back as is.
    let task = draft
        .get("task_id")
        .and_then(Value::as_str)
        .and_then(|t| Uuid::parse_str(t).ok());
    if let Some(task) = task {
        let typed = form.fields.get("id_number").and_then(Value::as_str);
        if let Some(full) = typed.and_then(|t| crate::task_views::unmask_listed_id(s, task, t)) {
            form.fields.insert("id_number".into(), json!(full));
        }
    }
    // Sex and birth date are in the ID number: read from it when left out.
    let id = form
        .fields
        .get("id_number")
        .and_then(Value::as_str)
        .map(domain::normalize_id_number);
    if let Some(parsed) = id.and_then(|id| domain::parse_id_number(&id, s.today()).ok()) {
        form.fill("sex", json!(parsed.sex.code()));
        form.fill("birth_date", json!(parsed.birth_date.to_string()));
    }
    form.defaults(domain::Child::registration_defaults(s.today()));
    form
}

/// An agreement draft's terms as they will be kept: ID numbers sent back exactly as
/// the view masked them keep their stored value; a new draft's empty witness is the
/// child's village committee and the director, as the phone knows them.
pub(crate) fn agreement_terms(
    s: &Store,
    child_id: Uuid,
    draft_id: Option<Uuid>,
    mut terms: domain::AgreementTerms,
) -> Result<(domain::AgreementTerms, Map<String, Value>), UserError> {
    if let Some(id) = draft_id {
        if let Some(old) = field_store::record::load_record(s.connection(), "agreement_draft", id)?
        {
            if let Ok(d) = domain::AgreementDraft::from_fields(&old.doc) {
                terms.principal.id_number = crate::views::unmask_unchanged(
                    Some(terms.principal.id_number.clone()),
                    Some(&d.terms.principal.id_number),
                )
                .unwrap_or_default();
                terms.caregiver.id_number = crate::views::unmask_unchanged(
                    Some(terms.caregiver.id_number.clone()),
                    Some(&d.terms.caregiver.id_number),
                )
                .unwrap_or_default();
            }
        }
    }
    let mut filled = Map::new();
    let w = &mut terms.witness;
    if w.village_committee.trim().is_empty() && w.child_director.trim().is_empty() {
        let village = field_store::record::load_record(s.connection(), "child", child_id)?
            .and_then(|c| c.text("village_code").map(str::to_string));
        if let Some(code) = village {
            let name = s
                .village_names()
                .ok()
                .and_then(|n| n.get(&code).cloned())
                .unwrap_or(code);
            w.village_committee = format!("{name}村民委员会");
            filled.insert(
                "terms.witness.village_committee".into(),
                json!(w.village_committee),
            );
        }
        w.child_director = domain::Visit::visitor_of(account(s).as_deref());
        filled.insert(
            "terms.witness.child_director".into(),
            json!(w.child_director),
        );
    }
    Ok((terms, filled))
}

/// `check_draft` of a new PIN as it is typed: the rules `set_pin` and `change_pin`
/// apply, said before the second entry (a PIN still too short is not yet a problem
/// to show: `ready` stays false).
pub(crate) fn check_pin(draft: &Value) -> DraftCheck {
    let pin = draft.get("pin").and_then(Value::as_str).unwrap_or("");
    let problems: Vec<DraftProblem> = match crate::lock::check_new_pin(pin) {
        Ok(()) => vec![],
        Err(e) => vec![DraftProblem {
            error: e,
            blocks: true,
        }],
    };
    DraftCheck {
        ready: problems.is_empty(),
        problems,
        filled: Map::new(),
    }
}

/// `check_draft`: every problem of a form, at once, with what the device fills in.
pub(crate) fn check(s: &Store, d: CheckDraft) -> Result<DraftCheck, UserError> {
    let draft = match d.draft {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => {
            return Err(UserError::new(
                crate::error::Code::BadValue,
                "要检查的表单内容格式不对",
                "the draft must be an object of the form's fields",
            )
            .on_field("draft"))
        }
    };
    let (problems, filled) = match d.kind {
        DraftKind::Visit => {
            let form = visit(s, &draft)?;
            let mut p = form.problems;
            p.extend(s.draft_problems("visit", &form.fields)?);
            (p, form.filled)
        }
        DraftKind::Child => {
            let form = child(s, &draft);
            let mut p = form.problems;
            p.extend(s.draft_problems("child", &form.fields)?);
            if let Some(c) = draft.get("consent").filter(|c| !c.is_null()) {
                p.extend(consent_problems(c));
            }
            (p, form.filled)
        }
        DraftKind::Pin => return Ok(check_pin(&Value::Object(draft))),
        DraftKind::Agreement => {
            let mut p = Problems::new();
            let child = draft
                .get("child_id")
                .and_then(Value::as_str)
                .and_then(|c| Uuid::parse_str(c).ok());
            let draft_id = draft
                .get("draft_id")
                .and_then(Value::as_str)
                .and_then(|c| Uuid::parse_str(c).ok());
            let terms = draft.get("terms").cloned().unwrap_or(Value::Null);
            let mut filled = Map::new();
            match (
                child,
                crate::arguments::read::<domain::AgreementTerms>(terms),
            ) {
                (None, _) => p.block(
                    domain::DomainError::new(
                        "child_required",
                        "请选择协议所属的儿童",
                        "an agreement names its child",
                    )
                    .on_field("child_id"),
                ),
                (Some(_), Err(e)) => {
                    return Ok(DraftCheck {
                        ready: false,
                        problems: vec![DraftProblem {
                            error: e.on_field_under("terms"),
                            blocks: true,
                        }],
                        filled,
                    })
                }
                (Some(child), Ok(terms)) => {
                    let (terms, f) = agreement_terms(s, child, draft_id, terms)?;
                    filled = f;
                    p.extend(terms.signing_problems(s.today()));
                }
            }
            (p, filled)
        }
    };
    let problems: Vec<DraftProblem> = problems
        .0
        .into_iter()
        .map(|p| DraftProblem {
            error: p.error.into(),
            blocks: p.blocks,
        })
        .collect();
    Ok(DraftCheck {
        ready: problems.iter().all(|p| !p.blocks),
        problems,
        filled,
    })
}

/// The registration notice's signer, before the signature is drawn: a name and a
/// guardian role (the signature itself is checked when it is given).
fn consent_problems(c: &Value) -> Problems {
    let mut p = Problems::new();
    let name = c.get("signer_name").and_then(Value::as_str).unwrap_or("");
    if name.trim().is_empty() {
        p.block(
            domain::DomainError::new(
                "required",
                "请填写签字人姓名",
                "the signer's name is required",
            )
            .on_field("consent.signer_name"),
        );
    }
    let role = c.get("signer_role").and_then(Value::as_str).unwrap_or("");
    let relationship = c
        .get("signer_relationship")
        .and_then(Value::as_str)
        .unwrap_or("");
    if role == domain::GuardianRole::EntrustedCaregiver.code() && relationship.trim().is_empty() {
        p.warn(
            domain::DomainError::new(
                "required",
                "签字人是受委托照护人：请填写她与儿童的关系，才能同时记为儿童的监护人",
                "the signer is the entrusted caregiver: give her relationship to the child so she is kept as a guardian",
            )
            .on_field("consent.signer_relationship"),
        );
    }
    if domain::GuardianRole::from_code(role).is_none() {
        p.block(
            domain::DomainError::new(
                "required",
                "请选择签字人与儿童的关系",
                "choose the signer's role",
            )
            .on_field("consent.signer_role"),
        );
    }
    p
}
