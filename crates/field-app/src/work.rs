//! The director's work as commands: the home screen, the roster, a child's file,
//! registering and editing, visits with photos, drafts, care agreements, referrals,
//! sync. Each command reads its typed input, lets `domain` judge it (through
//! field-store's write path) and answers with a view; nothing here decides a rule.

use crate::app::DeviceApp;
use crate::error::{Code, UserError};
use crate::events::AppEvent;
use crate::types::*;
use crate::views;
use base64::Engine;
use field_store::fieldwork::SignatureInput;
use field_store::photo::{process_photo, PhotoLimits};
use field_store::Store;
use serde_json::{json, Map, Value};
use uuid::Uuid;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// How many children the home screen lists per band.
const HOME_LIMIT: usize = 200;

fn decode_b64(field: &str, data: &str) -> Result<Vec<u8>, UserError> {
    // A data: URL as a browser's FileReader makes it is accepted too.
    let raw = data.split_once(";base64,").map_or(data, |(_, b)| b);
    B64.decode(raw.trim()).map_err(|e| {
        UserError::new(
            "bad_image_data",
            "图片数据无法读取，请重新拍照或选择图片",
            format!("{field} is not base64: {e}"),
        )
        .on_field(field)
    })
}

fn insert_opt<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, v: &Option<T>) {
    if let Some(v) = v {
        m.insert(key.into(), json!(v));
    }
}

/// A patch's `Option<Option<T>>`: absent leaves the field, `null` clears it.
fn patch_opt<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, v: &Option<Option<T>>) {
    if let Some(v) = v {
        m.insert(key.into(), json!(v));
    }
}

fn signature_input(
    role: &str,
    name: &str,
    s: &DrawnSignature,
) -> Result<SignatureInput, UserError> {
    Ok(SignatureInput {
        role: role.to_string(),
        name: name.trim().to_string(),
        image: decode_b64("signature", &s.image_base64)?,
        strokes: s.strokes.clone(),
    })
}

fn saved(store: &Store, id: Uuid, changed: usize) -> Saved {
    Saved {
        id,
        changed,
        saved_at: store.now_china_rfc3339(),
    }
}

use crate::forms::account;

impl DeviceApp {
    /// Today's work: overdue first, then due soon, red before green; open tasks; forms
    /// left unfinished; the sync badge.
    pub fn home(&self, _: Empty) -> Result<Home, UserError> {
        let sync = self.sync_state(Empty {})?;
        self.with_store(|s| {
            let today = s.today();
            let all = s.roster(&field_store::roster::RosterFilter::default())?;
            let children = all.len() as u64;
            let mut overdue = Vec::new();
            let mut due_soon = Vec::new();
            for e in all {
                match e.due_state {
                    Some("overdue") if overdue.len() < HOME_LIMIT => {
                        overdue.push(views::roster_item(e))
                    }
                    Some("due_soon") if due_soon.len() < HOME_LIMIT => {
                        due_soon.push(views::roster_item(e))
                    }
                    _ => {}
                }
            }
            let mut tasks = s
                .tasks(true)?
                .iter()
                .map(|e| crate::task_views::task_view(s, e, today))
                .collect::<Result<Vec<TaskView>, _>>()?;
            crate::task_views::sort_tasks(&mut tasks);
            let name_of = |key: &str| {
                Uuid::parse_str(key).ok().and_then(|id| {
                    field_store::record::load_values(s.connection(), "child", id)
                        .ok()
                        .flatten()
                        .and_then(|c| c.text("name").map(str::to_string))
                })
            };
            let drafts = s
                .drafts()?
                .into_iter()
                .map(|d| DraftView {
                    child_name: name_of(&d.key),
                    kind: d.kind,
                    key: d.key,
                    data: d.data,
                    updated_at: d.updated_at,
                })
                .collect();
            Ok(Home {
                overdue,
                due_soon,
                tasks,
                drafts,
                replaced: views::replaced_views(s, HOME_LIMIT)?,
                children,
                sync,
            })
        })
    }

    /// The roster, most urgent first, filtered.
    pub fn roster(&self, f: RosterFilter) -> Result<Vec<RosterItem>, UserError> {
        self.with_store(|s| {
            let entries = s.roster(&field_store::roster::RosterFilter {
                category: f.category.filter(|c| !c.is_empty()),
                risk_colour: f.risk_colour.filter(|c| !c.is_empty()),
                overdue_only: f.overdue_only,
                search: f.search,
                include_exited: f.include_exited,
            })?;
            Ok(entries.into_iter().map(views::roster_item).collect())
        })
    }

    /// 一人一档.
    pub fn child_file(&self, r: ChildRef) -> Result<ChildFileView, UserError> {
        self.with_store(|s| {
            let file = s.child_file(r.child_id)?;
            views::child_file_view(s, file)
        })
    }

    /// Registers a child, with the guardian's signed acknowledgement of the notice.
    pub fn add_child(&self, c: NewChild) -> Result<Saved, UserError> {
        let consent = c
            .consent
            .as_ref()
            .map(|k| signature_input(&k.signer_role, &k.signer_name, &k.signature))
            .transpose()?;
        let out = self.with_store(|s| {
            let args = serde_json::to_value(&c).map_err(UserError::internal)?;
            let form = crate::forms::child(s, args.as_object().unwrap_or(&Map::new()));
            let f = form.fields;
            let relationship = c
                .consent
                .as_ref()
                .and_then(|k| k.signer_relationship.as_deref());
            let (id, _) = match c.task_id {
                Some(task) => {
                    s.register_child_from_task(task, f, consent.as_ref(), relationship)?
                }
                None => s.register_child(f, consent.as_ref(), relationship)?,
            };
            Ok(saved(s, id, 1))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Changes a child's details.
    pub fn edit_child(&self, e: EditChild) -> Result<Saved, UserError> {
        let out = self.with_store(|s| {
            let stored = field_store::record::load_record(s.connection(), "child", e.child_id)?
                .ok_or_else(|| UserError::not_found("儿童档案", "child"))?;
            let p = e.changes;
            let mut f = Map::new();
            insert_opt(&mut f, "name", &p.name.as_deref().map(str::trim));
            insert_opt(&mut f, "sex", &p.sex);
            insert_opt(&mut f, "birth_date", &p.birth_date);
            if let Some(id) = p.id_number {
                let kept = views::unmask_unchanged(
                    id.filter(|s| !s.trim().is_empty()),
                    stored.text("id_number"),
                );
                f.insert("id_number".into(), json!(kept));
            }
            insert_opt(&mut f, "village_code", &p.village_code);
            insert_opt(&mut f, "categories", &p.categories);
            insert_opt(&mut f, "risk_colour", &p.risk_colour);
            patch_opt(&mut f, "ethnicity", &p.ethnicity);
            insert_opt(&mut f, "household_registered", &p.household_registered);
            patch_opt(&mut f, "registered_address", &p.registered_address);
            patch_opt(&mut f, "current_address", &p.current_address);
            patch_opt(&mut f, "guardianship_rating", &p.guardianship_rating);
            patch_opt(&mut f, "assistance", &p.assistance);
            patch_opt(&mut f, "health", &p.health);
            patch_opt(&mut f, "school", &p.school);
            insert_opt(&mut f, "status", &p.status);
            patch_opt(&mut f, "exit_reason", &p.exit_reason);
            patch_opt(&mut f, "exit_date", &p.exit_date);
            patch_opt(&mut f, "notes", &p.notes);
            let n = s.edit_record("child", e.child_id, f)?;
            Ok(saved(s, e.child_id, n))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Adds a parent, grandparent or the entrusted caregiver.
    pub fn add_guardian(&self, g: NewGuardian) -> Result<Saved, UserError> {
        let out = self.with_store(|s| {
            if field_store::record::load_record(s.connection(), "child", g.child_id)?.is_none() {
                return Err(UserError::not_found("儿童档案", "child"));
            }
            let mut f = Map::new();
            f.insert("child_id".into(), json!(g.child_id));
            f.insert("role".into(), json!(g.role));
            f.insert("name".into(), json!(g.name.trim()));
            insert_opt(
                &mut f,
                "id_number",
                &g.id_number
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty()),
            );
            insert_opt(&mut f, "relationship", &g.relationship);
            insert_opt(
                &mut f,
                "phone",
                &g.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            );
            insert_opt(&mut f, "whereabouts", &g.whereabouts);
            insert_opt(&mut f, "work_location", &g.work_location);
            insert_opt(&mut f, "health", &g.health);
            insert_opt(&mut f, "address", &g.address);
            let id = s.add_record("guardian", f)?;
            Ok(saved(s, id, 1))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Changes a guardian's details.
    pub fn edit_guardian(&self, e: EditGuardian) -> Result<Saved, UserError> {
        let out = self.with_store(|s| {
            let stored =
                field_store::record::load_record(s.connection(), "guardian", e.guardian_id)?
                    .ok_or_else(|| UserError::not_found("监护人记录", "guardian"))?;
            let p = e.changes;
            let mut f = Map::new();
            insert_opt(&mut f, "role", &p.role);
            insert_opt(&mut f, "name", &p.name.as_deref().map(str::trim));
            if let Some(id) = p.id_number {
                let kept = views::unmask_unchanged(
                    id.filter(|s| !s.trim().is_empty()),
                    stored.text("id_number"),
                );
                f.insert("id_number".into(), json!(kept));
            }
            patch_opt(&mut f, "relationship", &p.relationship);
            patch_opt(&mut f, "phone", &p.phone);
            patch_opt(&mut f, "whereabouts", &p.whereabouts);
            patch_opt(&mut f, "work_location", &p.work_location);
            patch_opt(&mut f, "health", &p.health);
            patch_opt(&mut f, "address", &p.address);
            let n = s.edit_record("guardian", e.guardian_id, f)?;
            Ok(saved(s, e.guardian_id, n))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Any synced table by field names (scripts and `fieldctl`).
    pub fn add_record(&self, r: RecordInput) -> Result<Saved, UserError> {
        let out = self.with_store(|s| match r.row_id {
            Some(id) => {
                let n = s.edit_record(&r.table, id, r.fields)?;
                Ok(saved(s, id, n))
            }
            None => {
                let id = s.add_record(&r.table, r.fields)?;
                Ok(saved(s, id, 1))
            }
        })?;
        self.after_write();
        Ok(out)
    }

    /// Soft-deletes a child's file (the audit trail keeps it).
    pub fn delete_child(&self, r: ChildRef) -> Result<Saved, UserError> {
        let out = self.with_store(|s| {
            s.delete_record("child", r.child_id)?;
            Ok(saved(s, r.child_id, 1))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Puts a photo through the pipeline (upright, resized, metadata and GPS stripped)
    /// and keeps it on the phone for the visit being recorded. The photo never goes to
    /// the phone's gallery.
    pub fn stage_photo(&self, p: PhotoInput) -> Result<StagedPhotoView, UserError> {
        let bytes = decode_b64("image_base64", &p.image_base64)?;
        // The heavy part runs before the store is locked, so other screens stay quick.
        let processed = process_photo(&bytes, &PhotoLimits::default())
            .map_err(|e| UserError::from(field_store::StoreError::Photo(e)).on_field("photo"))?;
        self.with_store(|s| {
            let id = s.stage_photo(&processed)?;
            Ok(StagedPhotoView {
                photo_id: id,
                thumb_base64: B64.encode(&processed.thumb),
                width: processed.width,
                height: processed.height,
                bytes: processed.full.len() as u64,
            })
        })
    }

    /// Throws a staged photo away.
    pub fn discard_photo(&self, p: PhotoRef) -> Result<Empty, UserError> {
        self.with_store(|s| {
            s.discard_staged_photo(p.photo_id)?;
            Ok(Empty {})
        })
    }

    /// A photo, thumbnail or signature image held on the phone.
    pub fn photo(&self, b: BlobRef) -> Result<ImageData, UserError> {
        use field_store::blobs::BlobKind;
        self.with_store(|s| {
            let bytes = s
                .blob_of_kind(
                    &b.sha256,
                    &[BlobKind::Photo, BlobKind::Thumb, BlobKind::Signature],
                )?
                .ok_or_else(|| UserError::not_found("照片", "image"))?;
            let mime = if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
                "image/png"
            } else {
                "image/jpeg"
            };
            Ok(ImageData {
                mime: mime.into(),
                base64: B64.encode(&bytes),
            })
        })
    }

    /// Records a visit with its staged photos (and a referral made on it) in one
    /// transaction; the form's draft goes with it.
    pub fn record_visit(&self, v: NewVisit) -> Result<VisitSaved, UserError> {
        // Photos given with the visit go through the pipeline first (off the store's
        // lock); a bad one refuses the visit before anything is kept.
        let mut processed = Vec::with_capacity(v.photos.len());
        for (i, p) in v.photos.iter().enumerate() {
            let bytes = decode_b64(&format!("photos.{i}"), &p.image_base64)?;
            processed.push(process_photo(&bytes, &PhotoLimits::default()).map_err(|e| {
                UserError::from(field_store::StoreError::Photo(e)).on_field(format!("photos.{i}"))
            })?);
        }
        let mut v = v;
        let staged_here = self.with_store(|s| {
            let mut ids = Vec::with_capacity(processed.len());
            for p in &processed {
                match s.stage_photo(p) {
                    Ok(id) => ids.push(id),
                    Err(e) => {
                        for id in &ids {
                            let _ = s.discard_staged_photo(*id);
                        }
                        return Err(e.into());
                    }
                }
            }
            Ok(ids)
        })?;
        v.photo_ids.extend(staged_here.iter().copied());
        let out = self.record_staged_visit(v);
        if out.is_err() && !staged_here.is_empty() {
            let _ = self.with_store(|s| {
                for id in &staged_here {
                    let _ = s.discard_staged_photo(*id);
                }
                Ok(())
            });
        }
        out
    }

    fn record_staged_visit(&self, v: NewVisit) -> Result<VisitSaved, UserError> {
        let out = self.with_store(|s| {
            let args = serde_json::to_value(&v).map_err(UserError::internal)?;
            let form = crate::forms::visit(s, args.as_object().unwrap_or(&Map::new()))?;
            form.problems.first_blocking()?;
            let f = form.fields;
            let referral = args
                .get("referral")
                .filter(|r| r.is_object())
                .map(|r| crate::forms::referral_fields(s, r));
            let draft_key = v
                .draft_key
                .clone()
                .unwrap_or_else(|| v.child_id.to_string());
            let r = s.record_visit_staged(
                v.child_id,
                f,
                &v.photo_ids,
                referral,
                Some(("visit", &draft_key)),
            )?;
            Ok(VisitSaved {
                visit_id: r.visit_id,
                photo_ids: r.photo_ids,
                referral_id: r.referral_id,
                saved_at: s.now_china_rfc3339(),
            })
        })?;
        self.after_write();
        Ok(out)
    }

    /// Voids a visit recorded by mistake (it stays in the file, marked void).
    pub fn void_visit(&self, v: VoidVisit) -> Result<Saved, UserError> {
        let out = self.with_store(|s| {
            let by = domain::Visit::visitor_of(account(s).as_deref());
            s.void_record("visit", v.visit_id, &v.reason, &by)?;
            Ok(saved(s, v.visit_id, 1))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Saves a form's fields as they are now.
    pub fn save_draft(&self, d: DraftInput) -> Result<DraftSaved, UserError> {
        self.with_store(|s| {
            Ok(DraftSaved {
                saved_at: s.save_draft(&d.kind, &d.key, &d.data)?,
            })
        })
    }

    /// A form's draft, if one was saved.
    pub fn get_draft(&self, d: DraftRef) -> Result<Option<DraftView>, UserError> {
        self.with_store(|s| {
            Ok(s.draft(&d.kind, &d.key)?.map(|d| DraftView {
                kind: d.kind,
                key: d.key,
                data: d.data,
                updated_at: d.updated_at,
                child_name: None,
            }))
        })
    }

    /// Throws a draft away.
    pub fn discard_draft(&self, d: DraftRef) -> Result<Empty, UserError> {
        self.with_store(|s| {
            s.discard_draft(&d.kind, &d.key)?;
            Ok(Empty {})
        })
    }

    /// Makes a referral.
    pub fn add_referral(&self, r: NewReferral) -> Result<Saved, UserError> {
        let child_id = r.child_id.ok_or_else(|| {
            UserError::new(
                "child_required",
                "请选择转介的儿童",
                "a referral names its child",
            )
            .on_field("child_id")
        })?;
        let out = self.with_store(|s| {
            let mut m = Map::new();
            m.insert("child_id".into(), json!(child_id));
            insert_opt(&mut m, "visit_id", &r.visit_id);
            m.insert("kind".into(), json!(r.kind));
            m.insert("receiving_body".into(), json!(r.receiving_body.trim()));
            insert_opt(&mut m, "referred_on", &r.referred_on);
            m.insert("feedback_due_on".into(), json!(r.feedback_due_on));
            domain::fill_defaults(&mut m, domain::Referral::defaults(s.today()));
            let id = s.add_record("referral", m)?;
            Ok(saved(s, id, 1))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Closes a referral with its outcome.
    pub fn close_referral(&self, c: CloseReferral) -> Result<Saved, UserError> {
        let out = self.with_store(|s| {
            let mut m = Map::new();
            m.insert("outcome".into(), json!(c.outcome.trim()));
            insert_opt(&mut m, "closed_on", &c.closed_on);
            domain::fill_defaults(&mut m, domain::Referral::closing_defaults(s.today()));
            let n = s.edit_record("referral", c.referral_id, m)?;
            Ok(saved(s, c.referral_id, n))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Every problem of a form at once, blocking or a warning, computed by the
    /// domain's rules and this phone's (一人一档, the villages it holds), with what
    /// the device fills in — before anything is saved or signed.
    pub fn check_draft(&self, d: CheckDraft) -> Result<DraftCheck, UserError> {
        if d.kind == DraftKind::Pin {
            // Typed before there is a store to open (choosing the first PIN).
            return Ok(crate::forms::check_pin(&d.draft));
        }
        self.with_store(|s| crate::forms::check(s, d))
    }

    /// Puts back a value another phone's edit replaced: a new edit of that field,
    /// through the change log like any other.
    pub fn restore_replaced_value(&self, r: ReplacedRef) -> Result<Saved, UserError> {
        let out = self.with_store(|s| {
            let (row, n) = s.restore_replaced_value(r.history_id)?;
            Ok(saved(s, row, n))
        })?;
        self.after_write();
        Ok(out)
    }

    /// Keeps what the record holds now: the replacement is no longer shown on home.
    pub fn keep_current_value(&self, r: ReplacedRef) -> Result<Empty, UserError> {
        self.with_store(|s| {
            s.keep_current_value(r.history_id)?;
            Ok(Empty {})
        })
    }

    /// The registration notice to read to the guardian.
    pub fn consent_notice(&self, _: Empty) -> Result<ConsentNotice, UserError> {
        Ok(ConsentNotice {
            version: domain::consent::NOTICE_VERSION,
            zh: domain::consent::NOTICE_ZH.into(),
            en: domain::consent::NOTICE_EN.into(),
            sha256: domain::consent::notice_sha256(),
        })
    }

    /// Keeps a guardian's acknowledgement of the notice for a child registered earlier.
    pub fn sign_consent(&self, c: SignConsent) -> Result<Saved, UserError> {
        let sig = signature_input(
            &c.consent.signer_role,
            &c.consent.signer_name,
            &c.consent.signature,
        )?;
        let out = self.with_store(|s| {
            let id = s.sign_consent(c.child_id, &sig, c.consent.signer_relationship.as_deref())?;
            Ok(saved(s, id, 1))
        })?;
        self.after_write();
        Ok(out)
    }

    // ─────────────────────────── agreements ───────────────────────────

    /// Creates or edits a care agreement draft. An ID number sent back as the view
    /// masked it keeps its stored value.
    pub fn save_agreement_draft(&self, a: AgreementDraftInput) -> Result<Saved, UserError> {
        let out = self.with_store(|s| {
            let (terms, _) = crate::forms::agreement_terms(s, a.child_id, a.draft_id, a.terms)?;
            let value = serde_json::to_value(&terms).map_err(UserError::internal)?;
            let id = s.save_agreement_draft(a.child_id, a.draft_id, value)?;
            Ok(saved(s, id, 1))
        })?;
        self.after_write();
        Ok(out)
    }

    fn draft_terms(
        s: &Store,
        draft_id: Uuid,
    ) -> Result<(Uuid, domain::AgreementTerms, u32), UserError> {
        let rec = field_store::record::load_record(s.connection(), "agreement_draft", draft_id)?
            .filter(|r| !r.is_deleted())
            .ok_or_else(|| UserError::not_found("协议草稿", "agreement draft"))?;
        let draft = domain::AgreementDraft::from_fields(&rec.doc)?;
        let versions = field_store::record::records_of_child(
            s.connection(),
            "agreement_version",
            draft.child_id,
        )?
        .into_iter()
        .filter(|v| v.text("draft_id") == Some(draft_id.to_string().as_str()))
        .count() as u32;
        Ok((draft.child_id, draft.terms, versions + 1))
    }

    /// The full text a draft would be signed with, and what is still missing.
    pub fn agreement_preview(&self, d: DraftId) -> Result<AgreementPreview, UserError> {
        self.with_store(|s| {
            let (_, terms, version) = Self::draft_terms(s, d.draft_id)?;
            let text = domain::canonical_text(&terms, version);
            let sha256 = domain::text_sha256(&text);
            // Everything missing, at once: filled in one go, not one round trip each.
            let problems = terms
                .signing_problems(s.today())
                .0
                .into_iter()
                .filter(|p| p.blocks)
                .map(|p| p.error.into())
                .collect();
            let mut signers = vec!["principal".to_string(), "caregiver".to_string()];
            if !terms.witness.child_director.trim().is_empty() {
                signers.push("witness".into());
            }
            Ok(AgreementPreview {
                draft_id: d.draft_id,
                version,
                text: domain::mask_id_numbers_in_text(&text),
                sha256,
                problems,
                signers,
            })
        })
    }

    /// Signs a draft: the text the signers read (named by its hash) is sealed with
    /// their signatures, and the draft is locked.
    pub fn sign_agreement(&self, a: SignAgreement) -> Result<AgreementSigned, UserError> {
        let sigs = a
            .signers
            .iter()
            .map(|x| signature_input(&x.role, &x.name, &x.signature))
            .collect::<Result<Vec<_>, _>>()?;
        let out = self.with_store(|s| {
            let (_, terms, version) = Self::draft_terms(s, a.draft_id)?;
            let text = domain::canonical_text(&terms, version);
            if domain::text_sha256(&text) != a.sha256 {
                return Err(UserError::new(
                    "agreement_changed",
                    "协议内容在阅读后被修改过，请重新阅读全文后再签字",
                    "the agreement changed since it was read; read it again before signing",
                ));
            }
            let signed = s.sign_agreement(a.draft_id, &sigs)?;
            Ok(AgreementSigned {
                version_id: signed.version_id,
                version: signed.version,
                text_sha256: signed.text_sha256,
                signature_ids: signed.signature_ids,
            })
        })?;
        self.after_write();
        Ok(out)
    }

    /// A signed agreement's locked text and signatures.
    pub fn agreement(&self, v: VersionRef) -> Result<AgreementTextView, UserError> {
        self.with_store(|s| {
            let (version, text, child_name) = signed_version(s, v.version_id)?;
            Ok(AgreementTextView {
                text: domain::mask_id_numbers_in_text(&text),
                version,
                child_name,
            })
        })
    }

    /// The printable copy for the family: the signed text in full (it is their legal
    /// document; the on-screen text is masked), the parties, the signatures, the date
    /// and the SHA-256 on every page, as a PDF made on the phone.
    pub fn agreement_pdf(&self, v: VersionRef) -> Result<PdfFile, UserError> {
        let input = self.with_store(|s| printable(s, v.version_id))?;
        let font = self
            .font
            .get_or_init(|| {
                let path = self
                    .config
                    .font_path
                    .clone()
                    .or_else(agreement_pdf::find_system_font)
                    .ok_or_else(|| {
                        pdf_error(agreement_pdf::PdfError::FontMissing {
                            path: "(no CJK font found)".into(),
                            reason: "install fonts-noto-cjk or ship the font with the app".into(),
                        })
                    })?;
                agreement_pdf::AgreementFont::from_path(&path).map_err(pdf_error)
            })
            .clone()?;
        let rendered = agreement_pdf::render(&input, &font).map_err(pdf_error)?;
        Ok(PdfFile {
            file_name: format!(
                "委托照护协议-{}-第{}版.pdf",
                input.child_name, input.version
            ),
            pdf_base64: B64.encode(&rendered.pdf),
        })
    }

    // ─────────────────────────── sync ───────────────────────────

    /// What the sync screen and badge show.
    pub fn sync_state(&self, _: Empty) -> Result<SyncState, UserError> {
        let shared = match &self.runner {
            Some(r) => r.snapshot(),
            None => self.script_round().clone(),
        };
        let s = self.session();
        let store = s.store.as_ref().ok_or_else(UserError::locked)?;
        views::sync_state(store, &shared)
    }

    /// Syncs now. The app gets the answer as events; a script may wait for the round
    /// (retrying network failures under the device's retry policy) and reads what it
    /// did in the answer's `last_round`.
    pub fn sync_now(&self, input: SyncNowInput) -> Result<SyncState, UserError> {
        match (&self.runner, input.wait) {
            (Some(r), false) => {
                self.with_store(|s| {
                    if s.enrollment()?.is_none() {
                        return Err(UserError::not_enrolled());
                    }
                    Ok(())
                })?;
                r.sync_now(None, input.retries);
            }
            (Some(r), true) => {
                let (tx, rx) = std::sync::mpsc::channel();
                r.sync_now(Some(tx), input.retries);
                rx.recv().map_err(|_| UserError::locked())??;
            }
            (None, _) => {
                let mut opts = field_store::sync::SyncOptions::default();
                if let Some(n) = input.push_batch {
                    opts.push_batch = n.max(1) as usize;
                }
                if let Some(n) = input.pull_page {
                    opts.pull_page = n.max(1);
                }
                if let Some(t) = input.fetch_thumbnails {
                    opts.fetch_thumbnails = t;
                }
                self.sync_blocking(&opts, input.retries, &mut |p| {
                    self.emit(AppEvent::SyncProgress(p.clone()))
                })?;
            }
        }
        self.sync_state(Empty {})
    }

    /// One sync round on the commands' own connection (`sync_now` with `wait` and no
    /// background runner: `fieldctl`, scripts), network failures retried up to
    /// `retries` times under the device's one retry policy
    /// ([`field_store::retry::RetryPolicy::while_a_person_waits`]); each wait is told
    /// to `progress` (and to the app's listeners) before it starts. What it did is
    /// kept for `sync_state` (`last_round`, `children_left`, `last_error`).
    pub fn sync_blocking(
        &self,
        opts: &field_store::sync::SyncOptions,
        retries: u32,
        progress: &mut dyn FnMut(&SyncProgressView),
    ) -> Result<SyncSummary, UserError> {
        let policy = crate::round::script_policy(retries);
        let progress = std::cell::RefCell::new(progress);
        let result = field_store::retry::retry(
            &policy,
            policy.backoff(),
            |e: &UserError| e.code == Code::Network,
            |attempt, _, wait| {
                let view = crate::round::retry_view(attempt, wait);
                (progress.borrow_mut())(&view);
            },
            std::thread::sleep,
            || {
                self.with_store(|s| {
                    if s.enrollment()?.is_none() {
                        return Err(UserError::not_enrolled());
                    }
                    self.script_round().last_attempt_at = Some(s.now_china_rfc3339());
                    let mut cb = |p: &field_store::sync::SyncProgress| {
                        let view = crate::round::progress_view(p);
                        (progress.borrow_mut())(&view);
                    };
                    field_store::sync::sync_once(s, opts, &mut cb)
                        .map(crate::round::summary)
                        .map_err(UserError::from)
                })
            },
        );
        self.script_round().finished(&result);
        if result.is_ok() {
            self.after_write();
        }
        result
    }

    /// The director has seen a rejected change and acted on it: it leaves the list.
    pub fn acknowledge_rejected(&self, r: RejectedRef) -> Result<SyncState, UserError> {
        self.with_store(|s| Ok(s.acknowledge_rejection(r.device_seq)?))?;
        self.after_write();
        self.sync_state(Empty {})
    }

    /// The device's raw counters.
    pub fn status(&self, _: Empty) -> Result<DeviceStatus, UserError> {
        self.with_store(|s| {
            let st = s.status()?;
            Ok(DeviceStatus {
                device_id: st.device_id,
                villages: st.villages,
                children: st.children,
                records: st.records,
                outbox_changes: st.outbox_changes,
                oldest_pending_secs: st.oldest_pending_secs,
                rejected_changes: st.rejected_changes,
                pending_blobs: st.pending_blobs,
                pending_blob_bytes: st.pending_blob_bytes,
                last_device_seq: st.last_device_seq,
                acked_seq: st.acked_seq,
                pull_cursor: st.pull_cursor,
                clock_offset_ms: st.clock_offset_ms,
                last_hlc: st.last_hlc,
                free_storage_bytes: st.free_storage_bytes,
            })
        })
    }

    /// Sets the villages of a phone that is not enrolled (offline tests and demos).
    pub fn init(&self, i: InitInput) -> Result<DeviceStatus, UserError> {
        self.with_store(|s| {
            if !i.villages.is_empty() {
                if s.enrollment()?.is_some() {
                    return Err(UserError::new(
                        "already_enrolled",
                        "已登记的手机由服务器决定负责的村",
                        "an enrolled phone's villages come from the server",
                    ));
                }
                s.set_scopes(&i.villages)?;
            }
            Ok(())
        })?;
        self.status(Empty {})
    }

    /// The whole synced state as canonical JSON (compare two phones byte for byte).
    pub fn export(&self, _: Empty) -> Result<Value, UserError> {
        self.with_store(|s| {
            let text = s.export_canonical()?;
            serde_json::from_str(&text)
                .map_err(|e| UserError::from(field_store::StoreError::Corrupt(e.to_string())))
        })
    }

    /// Per-village checksums.
    pub fn checksums(&self, _: Empty) -> Result<Value, UserError> {
        self.with_store(|s| {
            let sums = s.scope_checksums()?;
            Ok(Value::Object(
                sums.into_iter()
                    .map(|(scope, c)| {
                        (
                            scope.0,
                            json!({"fields": c.fields, "sum": format!("{:032x}", c.sum)}),
                        )
                    })
                    .collect(),
            ))
        })
    }

    /// Every code list with its Chinese and English names.
    pub fn vocabulary(&self, _: Empty) -> Result<Vocabulary, UserError> {
        Ok(crate::vocabulary::vocabulary())
    }
}

fn pdf_error(e: agreement_pdf::PdfError) -> UserError {
    UserError::new(e.code(), e.zh(), e.to_string())
}

/// Everything the printed copy of a signed version shows, from the store.
fn printable(s: &Store, version_id: Uuid) -> Result<agreement_pdf::PrintableAgreement, UserError> {
    use agreement_pdf::{Party, PrintableAgreement, SignatureImage, SignerRole};
    let (view, text, child_name) = signed_version(s, version_id)?;
    let rec = field_store::record::load_record(s.connection(), "agreement_version", version_id)?
        .ok_or_else(|| UserError::not_found("已签署的协议", "signed agreement"))?;
    let v = domain::AgreementVersion::from_fields(&rec.doc)?;
    let terms = field_store::record::load_record(s.connection(), "agreement_draft", v.draft_id)?
        .and_then(|d| domain::AgreementDraft::from_fields(&d.doc).ok())
        .map(|d| d.terms)
        .unwrap_or_default();
    let role = |code: &str| match code {
        "principal" => SignerRole::Principal,
        "caregiver" => SignerRole::Caregiver,
        _ => SignerRole::Witness,
    };
    let parties = vec![
        Party {
            role: SignerRole::Principal,
            name: terms.principal.name.clone(),
            relation: terms
                .principal
                .relation
                .map(|r| r.label_zh().to_string())
                .unwrap_or_default(),
            id_number_masked: domain::mask_id_number(&terms.principal.id_number),
        },
        Party {
            role: SignerRole::Caregiver,
            name: terms.caregiver.name.clone(),
            relation: terms.caregiver.relationship.clone(),
            id_number_masked: domain::mask_id_number(&terms.caregiver.id_number),
        },
        Party {
            role: SignerRole::Witness,
            name: terms.witness.child_director.clone(),
            relation: terms.witness.village_committee.clone(),
            id_number_masked: String::new(),
        },
    ];
    let mut signatures = Vec::new();
    for sig in &view.signatures {
        // A signature image not on this phone (signed elsewhere, not fetched) prints as
        // an empty box with the signer's name; it is never invented.
        if let Some(png) = s.blob_of_kind(
            &sig.image_sha256,
            &[field_store::blobs::BlobKind::Signature],
        )? {
            signatures.push(SignatureImage {
                role: role(&sig.signer_role),
                signer_name: sig.signer_name.clone(),
                signed_at: sig.signed_at.clone(),
                png,
            });
        }
    }
    Ok(PrintableAgreement {
        canonical_text: text,
        text_sha256: view.text_sha256.clone(),
        version: view.version,
        child_name,
        signed_on: view.signed_at.clone(),
        parties,
        signatures,
    })
}

/// A signed version's view, full text and child's name.
fn signed_version(
    s: &Store,
    id: Uuid,
) -> Result<(AgreementVersionView, String, String), UserError> {
    let rec = field_store::record::load_record(s.connection(), "agreement_version", id)?
        .ok_or_else(|| UserError::not_found("已签署的协议", "signed agreement"))?;
    let v = domain::AgreementVersion::from_fields(&rec.doc)?;
    let signatures: Vec<field_store::child_file::FileRow> =
        field_store::record::records_of_child(s.connection(), "signature", v.child_id)?
            .into_iter()
            .map(|r| field_store::child_file::FileRow {
                id: r.row_id,
                fields: r.doc,
            })
            .collect();
    let states = s.record_sync_states(v.child_id)?;
    let sync = |table: &str, rid: Uuid| match states.get(&(table.to_string(), rid)) {
        Some(field_store::status::RecordSync::OnPhone) => RecordSyncState::OnPhone,
        _ => RecordSyncState::Sent,
    };
    let view = views::version_view(id, &rec.doc, &signatures, s.today(), &sync)
        .ok_or_else(|| UserError::not_found("已签署的协议", "signed agreement"))?;
    let child_name = field_store::record::load_record(s.connection(), "child", v.child_id)?
        .and_then(|c| c.text("name").map(str::to_string))
        .unwrap_or_default();
    Ok((view, v.canonical_text, child_name))
}
