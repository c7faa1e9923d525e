//! What the screens show, built from the store: the roster line with its due status in
//! words, the child's file with every ID number masked and every record's sync state,
//! the sync state with each rejected change in plain Chinese.
//!
//! Masking happens here, through the domain's one rule (`domain::id_number`:
//! [`mask_id_number`], `mask_id_numbers_in_text`, `mask_field_for_screen`): a view
//! never carries a full ID number (the signed agreement's text and its printed copy
//! are the family's legal document and keep them; their on-screen text is masked too).

use crate::error::{rejection_text, UserError};
use crate::round::RunnerShared;
use crate::types::*;
use domain::id_number::mask_id_number;
use field_store::child_file::ChildFile;
use field_store::roster::RosterEntry;
use field_store::status::RecordSync;
use field_store::Store;
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// The due status in words, both languages.
pub fn due_words(state: Option<DueState>, days: Option<i64>) -> (String, String) {
    match (state, days) {
        (Some(DueState::Overdue), Some(d)) => (format!("逾期 {d} 天"), format!("{d} days overdue")),
        (Some(DueState::DueSoon), Some(0)) => ("今天到期".into(), "due today".into()),
        (Some(DueState::DueSoon), Some(d)) => (format!("{d} 天内到期"), format!("due in {d} days")),
        (Some(DueState::NotDue), Some(d)) => (format!("{d} 天后到期"), format!("due in {d} days")),
        _ => ("不需走访".into(), "no visit due".into()),
    }
}

pub(crate) fn roster_item(e: RosterEntry) -> RosterItem {
    let due_state = e.due_state.map(|s| match s {
        "overdue" => DueState::Overdue,
        "due_soon" => DueState::DueSoon,
        _ => DueState::NotDue,
    });
    let (due_zh, due_en) = due_words(due_state, e.due_days);
    RosterItem {
        child_id: e.child_id,
        name: e.name,
        village: e.village,
        categories: e.categories,
        risk_colour: e.risk_colour,
        last_visit_on: e.last_visit_on,
        last_visit_unsynced: e.last_visit_unsynced,
        next_due_on: e.next_due_on,
        due_state,
        due_days: e.due_days,
        due_zh,
        due_en,
    }
}

/// An ID number as shown: masked, or none.
pub(crate) fn masked(id: &Option<String>) -> Option<String> {
    id.as_deref().map(mask_id_number)
}

/// A typed-in ID number that is exactly the masked form of the stored one means "keep
/// it" (a form shows the masked number and sends it back unchanged).
pub(crate) fn unmask_unchanged(typed: Option<String>, stored: Option<&str>) -> Option<String> {
    match (typed, stored) {
        (Some(t), Some(s)) if t == mask_id_number(s) => Some(s.to_string()),
        (t, _) => t,
    }
}

fn sync_of(
    states: &HashMap<(String, Uuid), RecordSync>,
    rejected: &HashMap<(String, Uuid), (String, String)>,
    table: &str,
    id: Uuid,
) -> RecordSyncState {
    match states.get(&(table.to_string(), id)) {
        Some(RecordSync::OnPhone) => RecordSyncState::OnPhone,
        Some(RecordSync::Rejected) => {
            let (code, _) = rejected
                .get(&(table.to_string(), id))
                .cloned()
                .unwrap_or_else(|| ("rejected".into(), String::new()));
            let t = rejection_text(&code);
            RecordSyncState::Rejected {
                code,
                zh: t.zh.into(),
                en: t.en.into(),
                todo_zh: t.what_to_do_zh.into(),
                todo_en: t.what_to_do_en.into(),
            }
        }
        _ => RecordSyncState::Sent,
    }
}

/// Rejected changes not yet settled (acknowledged, or fixed by a later change), newest
/// first, with the child's name.
pub(crate) fn rejected_views(store: &Store) -> Result<Vec<RejectedView>, UserError> {
    let mut out = Vec::new();
    for r in store.rejected_changes()? {
        if r.acknowledged {
            continue;
        }
        let c = &r.change;
        let child_name = match r.child_id {
            Some(id) => field_store::record::load_record(store.connection(), "child", id)?
                .and_then(|rec| rec.text("name").map(str::to_string))
                .or_else(|| {
                    (c.table == "child" && c.field == "name")
                        .then(|| c.value.as_str().map(str::to_string))
                        .flatten()
                }),
            None => None,
        };
        out.push(RejectedView {
            device_seq: c.device_seq,
            table: c.table.clone(),
            table_zh: domain::labels::table_label_zh(&c.table).to_string(),
            table_en: domain::labels::table_label_en(&c.table).to_string(),
            row_id: c.row_id,
            child_id: r.child_id,
            child_name,
            field: c.field.clone(),
            field_zh: domain::labels::field_label_zh(&c.field).to_string(),
            code: r.code.clone(),
            zh: r.reason_zh.clone(),
            en: r.reason_en.clone(),
            todo_zh: r.what_to_do_zh.clone(),
            todo_en: r.what_to_do_en.clone(),
            server_message: r.message.chars().take(300).collect(),
            rejected_at: r.rejected_at,
        });
    }
    Ok(out)
}

/// The sync screen's state from a store and what the runner knows.
pub(crate) fn sync_state(store: &Store, shared: &RunnerShared) -> Result<SyncState, UserError> {
    let st = store.status()?;
    let offset_secs = st.clock_offset_ms / 1000;
    let clock_warning = (offset_secs.abs() >= 5 * 60).then(|| {
        let minutes = offset_secs.abs() / 60;
        let (zh_dir, en_dir) = if offset_secs > 0 { ("慢", "slow") } else { ("快", "fast") };
        let amount_zh = if minutes >= 60 * 24 {
            format!("{} 天", minutes / (60 * 24))
        } else if minutes >= 60 {
            format!("{} 小时", minutes / 60)
        } else {
            format!("{minutes} 分钟")
        };
        ClockWarning {
            offset_secs,
            zh: format!("手机时间比服务器{zh_dir}了约 {amount_zh}。记录时间已按服务器时间校正；请在手机设置中打开“自动设置时间”。"),
            en: format!("The phone's clock is about {minutes} minutes {en_dir}. Record times are corrected to the server's clock; turn on automatic time in the phone's settings."),
        }
    });
    Ok(SyncState {
        enrolled: store.enrollment()?.is_some(),
        in_flight: shared.in_flight || shared.sync_requested,
        progress: shared.progress.clone(),
        now: store.now_utc_rfc3339(),
        last_success_at: store.last_sync_at()?,
        last_attempt_at: shared.last_attempt_at.clone(),
        last_error: shared.last_error.clone(),
        online: shared.online,
        next_try_secs: shared.next_try_at.map(|t| {
            t.saturating_duration_since(std::time::Instant::now())
                .as_secs()
        }),
        pending_records: store.pending_record_count()?,
        pending_changes: st.outbox_changes,
        pending_photos: st.pending_blobs,
        pending_bytes: st.pending_blob_bytes,
        oldest_pending_secs: st.oldest_pending_secs,
        rejected: rejected_views(store)?,
        clock_warning,
        children_left: shared.children_left.clone(),
        last_round: shared.last_round.clone(),
        update_available: store.update_available(crate::APP_VERSION)?,
        app_version: crate::APP_VERSION.to_string(),
    })
}

fn date_of(v: Option<&Value>) -> Option<chrono::NaiveDate> {
    v.and_then(Value::as_str)
        .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

/// The child's file, masked, with each record's sync state.
pub(crate) fn child_file_view(store: &Store, file: ChildFile) -> Result<ChildFileView, UserError> {
    let today = store.today();
    let child_id = file.child.id;
    let states = store.record_sync_states(child_id)?;
    let mut rejected = HashMap::new();
    for r in store
        .rejected_changes()?
        .into_iter()
        .filter(|r| !r.acknowledged)
    {
        rejected
            .entry((r.change.table.clone(), r.change.row_id))
            .or_insert((r.code.clone(), r.message.clone()));
    }
    let sync = |table: &str, id: Uuid| sync_of(&states, &rejected, table, id);

    let mut child = domain::Child::from_fields(&file.child.fields)?;
    child.id_number = masked(&child.id_number);
    let age = child.age_on(today);
    let left_behind = child.categories.contains(&domain::Category::LeftBehind);

    let guardians = file
        .guardians
        .iter()
        .filter_map(|g| {
            let mut guardian = domain::Guardian::from_fields(&g.fields).ok()?;
            guardian.id_number = masked(&guardian.id_number);
            Some(GuardianView {
                guardian_id: g.id,
                guardian,
                sync: sync("guardian", g.id),
            })
        })
        .collect();

    let visit_ids: std::collections::HashSet<Uuid> = file.visits.iter().map(|v| v.id).collect();
    // A photo belongs to the visit it names; one that names none (or a visit not in
    // this file) is shown on its own, never left out.
    let photos_of = |visit_id: Option<Uuid>| -> Vec<PhotoView> {
        file.photos
            .iter()
            .filter_map(|p| {
                let photo = domain::Photo::from_fields(&p.fields).ok()?;
                let on_a_visit = photo.visit_id.filter(|v| visit_ids.contains(v));
                if on_a_visit != visit_id {
                    return None;
                }
                Some(PhotoView {
                    photo_id: p.id,
                    full_here: store.has_blob(&photo.blob_sha256).unwrap_or(false),
                    thumb_here: store.has_blob(&photo.thumb_sha256).unwrap_or(false),
                    blob_sha256: photo.blob_sha256,
                    thumb_sha256: photo.thumb_sha256,
                    width: photo.width,
                    height: photo.height,
                    voided: photo.voided.is_some(),
                    sync: sync("photo", p.id),
                })
            })
            .collect()
    };
    let visits = file
        .visits
        .iter()
        .filter_map(|v| {
            let visit = domain::Visit::from_fields(&v.fields).ok()?;
            Some(VisitView {
                visit_id: v.id,
                visit,
                photos: photos_of(Some(v.id)),
                sync: sync("visit", v.id),
            })
        })
        .collect();

    let agreement_drafts = file
        .agreement_drafts
        .iter()
        .filter_map(|d| {
            let draft = domain::AgreementDraft::from_fields(&d.fields).ok()?;
            let mut terms = draft.terms;
            terms.principal.id_number = mask_id_number(&terms.principal.id_number);
            terms.caregiver.id_number = mask_id_number(&terms.caregiver.id_number);
            Some(AgreementDraftView {
                draft_id: d.id,
                status: draft.status.code().to_string(),
                terms,
                sync: sync("agreement_draft", d.id),
            })
        })
        .collect();

    let mut agreements: Vec<AgreementVersionView> = file
        .agreement_versions
        .iter()
        .filter_map(|v| version_view(v.id, &v.fields, &file.signatures, today, &sync))
        .collect();
    agreements.sort_by(|a, b| b.signed_at.cmp(&a.signed_at));
    let needs_agreement =
        left_behind && !agreements.iter().any(|a| a.voided.is_none() && !a.expired);

    let referrals = file
        .referrals
        .iter()
        .filter_map(|r| {
            let referral = domain::Referral::from_fields(&r.fields).ok()?;
            Some(ReferralView {
                referral_id: r.id,
                feedback_overdue: referral.feedback_overdue(today),
                referral,
                sync: sync("referral", r.id),
            })
        })
        .collect();

    // The tasks about the child, and those closed by registering or linking it.
    let mut tasks = Vec::new();
    for e in store.tasks(false)? {
        let about = e
            .task
            .as_ref()
            .is_some_and(|t| t.child_id == Some(child_id) || t.outcome_child_id == Some(child_id));
        if about && e.task.as_ref().is_some_and(|t| !t.deleted) {
            tasks.push(crate::task_views::task_view(store, &e, today)?);
        }
    }
    crate::task_views::sort_tasks(&mut tasks);
    let county = store.county_standing(child_id)?.state;

    let consents: Vec<ConsentView> =
        field_store::record::records_of_child(store.connection(), "consent", child_id)?
            .into_iter()
            .filter_map(|r| {
                let c = domain::Consent::from_fields(&r.doc).ok()?;
                if c.voided.is_some() {
                    return None;
                }
                Some(ConsentView {
                    consent_id: r.row_id,
                    signer_name: c.signer_name,
                    signer_role: c.signer_role.code().to_string(),
                    notice_version: c.notice_version,
                    signed_at: c.signed_at,
                    sync: sync("consent", r.row_id),
                })
            })
            .collect();

    let me = store.device_id().to_string();
    let history = file
        .history
        .iter()
        .map(|h| HistoryView {
            table: h.table.clone(),
            table_zh: domain::labels::table_label_zh(&h.table).to_string(),
            field: h.field.clone(),
            field_zh: domain::labels::field_label_zh(&h.field).to_string(),
            value: match &h.value {
                Value::String(s) => Value::String(domain::mask_field_for_screen(&h.field, s)),
                other => other.clone(),
            },
            value_zh: value_words(&h.field, &h.value, true),
            value_en: value_words(&h.field, &h.value, false),
            replaced_here: h.device_id == me,
            kept_here: h.winner_device == me,
            by_device: h.device_id.clone(),
            replaced_by_device: h.winner_device.clone(),
            noted_at: h.noted_at.clone(),
        })
        .collect();

    let photos = photos_of(None);

    Ok(ChildFileView {
        photos,
        child: ChildView {
            child_id,
            age,
            sync: sync("child", child_id),
            child,
        },
        guardians,
        visits,
        agreement_drafts,
        agreements,
        referrals,
        tasks,
        consent_signed: !consents.is_empty(),
        consents,
        history,
        needs_agreement,
        county,
    })
}

pub(crate) fn version_view(
    id: Uuid,
    fields: &serde_json::Map<String, Value>,
    signatures: &[field_store::child_file::FileRow],
    today: chrono::NaiveDate,
    sync: &dyn Fn(&str, Uuid) -> RecordSyncState,
) -> Option<AgreementVersionView> {
    let v = domain::AgreementVersion::from_fields(fields).ok()?;
    let sigs = signatures
        .iter()
        .filter_map(|s| {
            let sig = domain::Signature::from_fields(&s.fields).ok()?;
            (sig.agreement_version_id == id).then(|| SignatureView {
                signature_id: s.id,
                signer_role: sig.signer_role.code().to_string(),
                signer_name: sig.signer_name.clone(),
                image_sha256: sig.image_sha256.clone(),
                signed_at: sig.signed_at.clone(),
                bound_to_text: sig.text_sha256 == v.text_sha256,
                sync: sync("signature", s.id),
            })
        })
        .collect();
    let until = date_of(fields.get("valid_until"));
    Some(AgreementVersionView {
        version_id: id,
        draft_id: v.draft_id,
        version: v.version,
        text_sha256: v.text_sha256.clone(),
        valid_from: v.valid_from.to_string(),
        valid_until: v.valid_until.to_string(),
        signed_at: v.signed_at.clone(),
        expiring: until.is_some_and(|u| u >= today && (u - today).num_days() <= 30),
        expired: until.is_some_and(|u| u < today),
        voided: v.voided.clone(),
        signatures: sigs,
        sync: sync("agreement_version", id),
    })
}

/// A field's value as a person reads it, in one language: codes by their names, yes
/// and no, ID numbers masked, lists joined, an empty value said as such. Ids of other
/// rows and hashes are never shown.
pub(crate) fn value_words(field: &str, v: &Value, zh: bool) -> String {
    let pick = |z: &str, e: &str| if zh { z.to_string() } else { e.to_string() };
    let code = |c: &str| {
        if zh {
            domain::labels::code_label_zh(c).to_string()
        } else {
            domain::labels::code_label_en(c)
        }
    };
    let leaf = |x: &Value| -> Option<String> {
        match x {
            Value::Null => None,
            Value::String(s) if Uuid::parse_str(s).is_ok() => None,
            Value::String(s) => Some(code(s)),
            Value::Bool(b) => Some(pick(
                if *b { "是" } else { "否" },
                if *b { "yes" } else { "no" },
            )),
            other => Some(other.to_string()),
        }
    };
    let empty = || pick("（空）", "(empty)");
    let sep = if zh { "、" } else { ", " };
    let out = match v {
        Value::Null => return empty(),
        Value::String(s) if s.trim().is_empty() => return empty(),
        Value::String(s) if field.ends_with("sha256") => return pick("（图片）", "(image)"),
        Value::String(s) if domain::id_number::is_id_number_field(field) => {
            domain::mask_field_for_screen(field, s)
        }
        Value::String(s) if Uuid::parse_str(s).is_ok() => {
            pick("（另一条记录）", "(another record)")
        }
        Value::String(s) => {
            let named = code(s);
            if named != *s && named != s.replace('_', " ") {
                named
            } else {
                s.clone()
            }
        }
        Value::Array(a) => a.iter().filter_map(leaf).collect::<Vec<_>>().join(sep),
        Value::Object(m) => m.values().filter_map(leaf).collect::<Vec<_>>().join(" · "),
        other => leaf(other).unwrap_or_default(),
    };
    if out.is_empty() {
        empty()
    } else {
        domain::mask_id_numbers_in_text(&out)
    }
}

/// The replacements the director is to see (home), newest first.
pub(crate) fn replaced_views(store: &Store, limit: usize) -> Result<Vec<ReplacedView>, UserError> {
    Ok(store
        .replaced_values(limit)?
        .into_iter()
        .map(|r| {
            let (table_zh, table_en) = (
                domain::labels::table_label_zh(&r.table).to_string(),
                domain::labels::table_label_en(&r.table).to_string(),
            );
            let field_zh = domain::labels::field_label_zh(&r.field).to_string();
            let field_en = domain::labels::field_label_en(&r.field);
            let (what_zh, what_en) = match &r.row_name {
                Some(n) => (
                    format!("{table_zh} {n} · {field_zh}"),
                    format!("{table_en} {n} · {field_en}"),
                ),
                None => (format!("{field_zh}"), field_en),
            };
            ReplacedView {
                history_id: r.id,
                child_id: r.child_id,
                child_name: r.child_name,
                what_zh,
                what_en,
                kept_zh: value_words(&r.field, &r.kept, true),
                kept_en: value_words(&r.field, &r.kept, false),
                replaced_zh: value_words(&r.field, &r.replaced, true),
                replaced_en: value_words(&r.field, &r.replaced, false),
                kept_here: r.kept_here,
                replaced_here: r.replaced_here,
                changed_since: r.changed_since,
                noted_at: r.noted_at,
            }
        })
        .collect())
}
