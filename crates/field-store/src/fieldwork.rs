//! What a child director does, as operations on the store: register a child, record a
//! visit with photos, draft and sign a care agreement, void a record. Each operation
//! validates with the `domain` crate (the one place for the rules), then writes through
//! [`crate::write`] in one transaction: on any error nothing is written.

use crate::blobs::BlobKind;
use crate::error::{Result, StoreError};
use crate::photo::{process_photo, process_signature, PhotoLimits};
use crate::record::{load_record, records_of_child, StoredRecord};
use crate::store::Store;
use crate::write::{NewBlob, RowWrite};
use chrono::NaiveDate;
use domain::DomainError;
use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The rows a visit produced.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VisitReceipt {
    pub visit_id: Uuid,
    pub photo_ids: Vec<Uuid>,
    /// The referral made on the visit, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<Uuid>,
}

/// One signature to put on an agreement (or on the registration notice): who signs,
/// the image of the strokes and the strokes themselves.
#[derive(Clone, Debug)]
pub struct SignatureInput {
    /// `principal` (甲), `caregiver` (乙) or `witness`; for the registration notice the
    /// signer's guardian role (`father`, `grandparent`, …).
    pub role: String,
    pub name: String,
    pub image: Vec<u8>,
    /// The pen strokes as captured (`{"w", "h", "strokes": [[[x, y, t], …], …]}`).
    pub strokes: Option<Value>,
}

/// A signature image through the pipeline, refused when there is no ink on it.
fn signature_image(s: &SignatureInput) -> Result<crate::photo::ProcessedSignature> {
    let img = process_signature(&s.image, &PhotoLimits::default())?;
    if crate::photo::signature_is_blank(&img) {
        return Err(DomainError::new(
            "signature_empty",
            format!("“{}”的签名是空白的，请用手指在框内签名", s.name.trim()),
            format!("the signature of {:?} is empty", s.name.trim()),
        )
        .on_field("signature")
        .into());
    }
    Ok(img)
}

/// The person who signed the registration notice, as the child's guardian (her role
/// is the one she signed as, with her relationship to the child when given). `None`
/// when the domain would not take her as a guardian yet (an entrusted caregiver needs
/// a relationship): the signature is never lost for it, and `check_draft` says what
/// to add before the signing step.
fn signer_as_guardian(
    child_id: Uuid,
    c: &SignatureInput,
    relationship: Option<&str>,
    today: NaiveDate,
) -> Option<RowWrite> {
    let mut f = Map::new();
    f.insert("child_id".into(), json!(child_id));
    f.insert("role".into(), json!(c.role));
    f.insert("name".into(), json!(c.name.trim()));
    if let Some(r) = relationship.map(str::trim).filter(|r| !r.is_empty()) {
        f.insert("relationship".into(), json!(r));
    }
    domain::validate_row("guardian", &f, today).ok()?;
    Some(RowWrite::new("guardian", None, f))
}

/// A signed agreement version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignedAgreement {
    pub version_id: Uuid,
    pub version: u32,
    pub text_sha256: String,
    pub signature_ids: Vec<Uuid>,
}

/// Runs the domain's rules for a row as it will be after a write (on the fields this
/// release knows: a newer release's fields are kept, not checked).
pub(crate) fn domain_rules(
    today: NaiveDate,
) -> impl Fn(&Connection, &StoredRecord, Option<&StoredRecord>) -> Result<()> {
    move |_conn, rec, before| {
        if rec.table == "agreement_draft" {
            if let Some(status) = before
                .and_then(|b| b.text("status"))
                .and_then(domain::AgreementStatus::from_code)
            {
                domain::agreement::ensure_draft_editable(status)?;
            }
        }
        if rec.table == "signature" {
            // A signature must sign exactly the version it names (same text hash).
            let sig = domain::agreement::Signature::from_fields(&rec.doc)?;
            let version = load_record(_conn, "agreement_version", sig.agreement_version_id)?
                .ok_or_else(|| StoreError::NotFound {
                    what: "agreement_version",
                    id: sig.agreement_version_id.to_string(),
                })?;
            let v = domain::agreement::AgreementVersion::from_fields(&version.doc)?;
            domain::agreement::ensure_signature_bound(&sig, version.row_id, &v)?;
        }
        crate::check::check_task_write(_conn, rec, before)?;
        let known = |r: &StoredRecord| domain::schema::known_fields(&r.table, &r.doc);
        match domain::validate_row(&rec.table, &known(rec), today) {
            Ok(()) => Ok(()),
            // An edit must not make a record worse, but a problem the record already
            // had (say a date written by a phone whose clock was a year fast) must not
            // block fixing another field either.
            Err(e)
                if before.is_some_and(|b| {
                    domain::validate_row(&b.table, &known(b), today)
                        .is_err_and(|was| was.code == e.code && was.field == e.field)
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Store {
    /// Registers a child (fields as in `domain::schema::CHILD`). Returns the new id.
    pub fn add_child(&mut self, fields: Map<String, Value>) -> Result<Uuid> {
        self.add_record("child", fields)
    }

    /// Registers a child together with the guardian's signed acknowledgement of the
    /// registration notice, in one transaction; the person who signed is kept as the
    /// child's guardian (nobody types her again). Returns the child's and the
    /// acknowledgement's ids.
    pub fn register_child(
        &mut self,
        fields: Map<String, Value>,
        consent: Option<&SignatureInput>,
        signer_relationship: Option<&str>,
    ) -> Result<(Uuid, Option<Uuid>)> {
        self.register_child_as(
            Uuid::now_v7(),
            fields,
            consent,
            signer_relationship,
            Vec::new(),
        )
    }

    /// [`Store::register_child`] of a child whose id the caller minted, with `also`
    /// (rows naming the new child, such as the task it closes) in the same transaction.
    pub(crate) fn register_child_as(
        &mut self,
        child_id: Uuid,
        fields: Map<String, Value>,
        consent: Option<&SignatureInput>,
        signer_relationship: Option<&str>,
        also: Vec<RowWrite>,
    ) -> Result<(Uuid, Option<Uuid>)> {
        let mut writes = vec![RowWrite::new("child", Some(child_id), fields)];
        let mut image = None;
        let mut consent_id = None;
        if let Some(c) = consent {
            let img = signature_image(c)?;
            let id = Uuid::now_v7();
            writes.push(RowWrite::new(
                "consent",
                Some(id),
                self.consent_fields(child_id, c, &img),
            ));
            writes.extend(signer_as_guardian(
                child_id,
                c,
                signer_relationship,
                self.today(),
            ));
            consent_id = Some(id);
            image = Some(img);
        }
        writes.extend(also);
        let blobs: Vec<NewBlob<'_>> = image
            .iter()
            .map(|img| NewBlob {
                sha256: &img.sha256,
                kind: BlobKind::Signature,
                bytes: &img.png,
            })
            .collect();
        let check = domain_rules(self.today());
        self.write_rows_with_blobs(writes, &blobs, &check)?;
        Ok((child_id, consent_id))
    }

    /// Keeps a guardian's signed acknowledgement of the registration notice for a
    /// child already registered.
    pub fn sign_consent(
        &mut self,
        child_id: Uuid,
        c: &SignatureInput,
        signer_relationship: Option<&str>,
    ) -> Result<Uuid> {
        if load_record(&self.conn, "child", child_id)?.is_none() {
            return Err(StoreError::NotFound {
                what: "child",
                id: child_id.to_string(),
            });
        }
        let img = signature_image(c)?;
        let id = Uuid::now_v7();
        let mut writes = vec![RowWrite::new(
            "consent",
            Some(id),
            self.consent_fields(child_id, c, &img),
        )];
        // The signer is kept as a guardian unless the file already names her.
        let known = records_of_child(&self.conn, "guardian", child_id)?
            .iter()
            .any(|g| !g.is_deleted() && g.text("name").map(str::trim) == Some(c.name.trim()));
        if !known {
            writes.extend(signer_as_guardian(
                child_id,
                c,
                signer_relationship,
                self.today(),
            ));
        }
        let blobs = [NewBlob {
            sha256: &img.sha256,
            kind: BlobKind::Signature,
            bytes: &img.png,
        }];
        let check = domain_rules(self.today());
        self.write_rows_with_blobs(writes, &blobs, &check)?;
        Ok(id)
    }

    fn consent_fields(
        &self,
        child_id: Uuid,
        c: &SignatureInput,
        img: &crate::photo::ProcessedSignature,
    ) -> Map<String, Value> {
        let mut f = Map::new();
        f.insert("child_id".into(), json!(child_id));
        f.insert(
            "notice_version".into(),
            json!(domain::consent::NOTICE_VERSION),
        );
        f.insert(
            "notice_sha256".into(),
            json!(domain::consent::notice_sha256()),
        );
        f.insert("signer_name".into(), json!(c.name));
        f.insert("signer_role".into(), json!(c.role));
        f.insert("image_sha256".into(), json!(img.sha256));
        if let Some(strokes) = &c.strokes {
            f.insert("strokes".into(), strokes.clone());
        }
        f.insert("signed_at".into(), json!(self.now_china_rfc3339()));
        f
    }

    /// Adds a row of any synced table (guardian, referral, task, …) after validation.
    pub fn add_record(&mut self, table: &str, fields: Map<String, Value>) -> Result<Uuid> {
        let check = domain_rules(self.today());
        Ok(self
            .write_row(RowWrite::new(table, None, fields), &check)?
            .row_id)
    }

    /// Changes some fields of a row held on this device. Returns how many changed.
    pub fn edit_record(
        &mut self,
        table: &str,
        row_id: Uuid,
        fields: Map<String, Value>,
    ) -> Result<usize> {
        if load_record(&self.conn, table, row_id)?.is_none() {
            return Err(StoreError::NotFound {
                what: domain::schema::table(table)
                    .map(|t| t.name)
                    .unwrap_or("record"),
                id: row_id.to_string(),
            });
        }
        let check = domain_rules(self.today());
        Ok(self
            .write_row(RowWrite::new(table, Some(row_id), fields), &check)?
            .changed)
    }

    /// Soft-deletes a mutable row (the audit trail keeps it).
    pub fn delete_record(&mut self, table: &str, row_id: Uuid) -> Result<()> {
        let mut f = Map::new();
        f.insert(domain::schema::TOMBSTONE_FIELD.into(), Value::Bool(true));
        self.edit_record(table, row_id, f).map(|_| ())
    }

    /// Voids an append-only record (a visit, a photo, a signed agreement) with a reason.
    /// The record stays in the file, marked void; it is never erased.
    pub fn void_record(&mut self, table: &str, row_id: Uuid, reason: &str, by: &str) -> Result<()> {
        let void = json!({"reason": reason, "by": by, "on": self.today().to_string()});
        serde_json::from_value::<domain::Void>(void.clone())
            .map_err(|e| DomainError::new("bad_void", "作废信息填写有误", e.to_string()))?
            .validate()?;
        let mut f = Map::new();
        f.insert(domain::schema::VOID_FIELD.into(), void);
        self.edit_record(table, row_id, f).map(|_| ())
    }

    /// Records a visit and its photos in one transaction. Photos are processed first
    /// (orientation, resize, EXIF stripped); a bad photo refuses the whole visit
    /// before anything is written, so the director can retry without duplicates.
    pub fn record_visit(
        &mut self,
        child_id: Uuid,
        fields: Map<String, Value>,
        photos: &[Vec<u8>],
    ) -> Result<VisitReceipt> {
        let limits = PhotoLimits::default();
        let processed = photos
            .iter()
            .map(|p| process_photo(p, &limits))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.record_visit_processed(child_id, fields, &processed)
    }

    /// Records a visit with photos that already went through [`process_photo`] (the
    /// app may process them while the director is still typing).
    pub fn record_visit_processed(
        &mut self,
        child_id: Uuid,
        fields: Map<String, Value>,
        processed: &[crate::photo::ProcessedPhoto],
    ) -> Result<VisitReceipt> {
        self.record_visit_finishing(child_id, fields, processed, None, &|_| Ok(()))
    }

    /// [`Store::record_visit_processed`] with device-local bookkeeping run in the same
    /// transaction (see `local.rs`).
    pub(crate) fn record_visit_finishing(
        &mut self,
        child_id: Uuid,
        mut fields: Map<String, Value>,
        processed: &[crate::photo::ProcessedPhoto],
        referral: Option<Map<String, Value>>,
        finish: &dyn Fn(&Connection) -> Result<()>,
    ) -> Result<VisitReceipt> {
        fields.insert("child_id".into(), json!(child_id));
        let visit_id = Uuid::now_v7();
        let taken_at = fields.get("visited_at").cloned().unwrap_or(Value::Null);
        let mut writes = vec![RowWrite::new("visit", Some(visit_id), fields)];
        let mut blobs = Vec::new();
        let mut photo_ids = Vec::new();
        for p in processed {
            let id = Uuid::now_v7();
            photo_ids.push(id);
            let mut f = Map::new();
            f.insert("child_id".into(), json!(child_id));
            f.insert("visit_id".into(), json!(visit_id));
            f.insert("blob_sha256".into(), json!(p.full_sha256));
            f.insert("thumb_sha256".into(), json!(p.thumb_sha256));
            f.insert("width".into(), json!(p.width));
            f.insert("height".into(), json!(p.height));
            f.insert("bytes".into(), json!(p.full.len()));
            f.insert("taken_at".into(), taken_at.clone());
            writes.push(RowWrite::new("photo", Some(id), f));
            blobs.push(NewBlob {
                sha256: &p.full_sha256,
                kind: BlobKind::Photo,
                bytes: &p.full,
            });
            blobs.push(NewBlob {
                sha256: &p.thumb_sha256,
                kind: BlobKind::Thumb,
                bytes: &p.thumb,
            });
        }
        // The risk colour judged on the visit is the child's colour from now on (the
        // roster, the due policy and the console read it from the child), unless a
        // visit made later than this one is already on file.
        let judged = &writes[0].fields;
        if let Some(colour) = judged.get("risk_colour").and_then(Value::as_str) {
            if !self.later_visit_on_file(child_id, judged.get("visited_at"))? {
                let mut c = Map::new();
                c.insert("risk_colour".into(), json!(colour));
                writes.push(RowWrite::new("child", Some(child_id), c));
            }
        }
        let mut referral_id = None;
        if let Some(mut r) = referral {
            let id = Uuid::now_v7();
            r.insert("child_id".into(), json!(child_id));
            r.insert("visit_id".into(), json!(visit_id));
            writes.push(RowWrite::new("referral", Some(id), r));
            referral_id = Some(id);
        }
        let check = domain_rules(self.today());
        self.write_rows_finishing(writes, &blobs, &check, finish)?;
        Ok(VisitReceipt {
            visit_id,
            photo_ids,
            referral_id,
        })
    }

    /// Whether a visit of the child (not voided) was made after `visited_at`, by the
    /// rule the roster uses for the child's latest visit: the visit times as written
    /// (`ts`, from the `(child_id, tbl, ts)` index; the app writes them in China time).
    fn later_visit_on_file(&self, child_id: Uuid, visited_at: Option<&Value>) -> Result<bool> {
        let Some(at) = visited_at.and_then(Value::as_str) else {
            return Ok(false);
        };
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM record
                 WHERE child_id = ?1 AND tbl = 'visit' AND ts > ?2
                   AND json_extract(doc, '$.voided') IS NULL)",
            )?
            .query_row(params![child_id.to_string(), at], |r| r.get(0))?)
    }

    /// Creates or edits a care agreement draft. A signed draft cannot be edited: an
    /// amendment is a new draft and a new signed version.
    pub fn save_agreement_draft(
        &mut self,
        child_id: Uuid,
        draft_id: Option<Uuid>,
        terms: Value,
    ) -> Result<Uuid> {
        let mut f = Map::new();
        f.insert("terms".into(), terms);
        match draft_id {
            Some(id) => {
                // Refused even when nothing would change: a signed agreement is not
                // edited, it is amended by a new draft.
                if let Some(status) =
                    load_record(&self.conn, "agreement_draft", id)?.and_then(|d| {
                        d.text("status")
                            .and_then(domain::AgreementStatus::from_code)
                    })
                {
                    domain::agreement::ensure_draft_editable(status)?;
                }
                self.edit_record("agreement_draft", id, f)?;
                Ok(id)
            }
            None => {
                f.insert("child_id".into(), json!(child_id));
                f.insert("status".into(), json!("draft"));
                self.add_record("agreement_draft", f)
            }
        }
    }

    /// Signs a draft: freezes its canonical zh-CN text and SHA-256 as a new immutable
    /// version (the period comes from the terms), stores each signature image bound to
    /// that hash, and marks the draft signed — all in one transaction.
    pub fn sign_agreement(
        &mut self,
        draft_id: Uuid,
        signatures: &[SignatureInput],
    ) -> Result<SignedAgreement> {
        let draft = load_record(&self.conn, "agreement_draft", draft_id)?
            .filter(|d| !d.is_deleted())
            .ok_or_else(|| StoreError::NotFound {
                what: "agreement_draft",
                id: draft_id.to_string(),
            })?;
        let status = draft
            .text("status")
            .and_then(domain::AgreementStatus::from_code);
        domain::agreement::ensure_draft_editable(status.unwrap_or(domain::AgreementStatus::Draft))?;
        let child_id = draft
            .child_ref()
            .ok_or_else(|| StoreError::Corrupt("draft without child".into()))?;
        let terms: domain::agreement::AgreementTerms =
            serde_json::from_value(draft.doc.get("terms").cloned().unwrap_or(Value::Null))
                .map_err(|e| {
                    DomainError::new(
                        "bad_terms",
                        "协议内容不完整或格式不对，请检查后再签署",
                        format!("agreement terms: {e}"),
                    )
                })?;
        let today = self.today();
        for needed in ["principal", "caregiver"] {
            if !signatures.iter().any(|s| s.role == needed) {
                return Err(DomainError::new(
                    "signature_missing",
                    if needed == "principal" {
                        "需要委托方（甲方）签字"
                    } else {
                        "需要受托照护人（乙方）签字"
                    },
                    format!("the {needed} must sign"),
                )
                .into());
            }
        }
        let earlier = records_of_child(&self.conn, "agreement_version", child_id)?
            .into_iter()
            .filter(|v| v.text("draft_id") == Some(draft_id.to_string().as_str()))
            .count();
        let version = earlier as u32 + 1;
        let now = self.now_china_rfc3339();
        let sealed = domain::agreement::AgreementVersion::seal(
            child_id, draft_id, version, &terms, &now, today,
        )?;
        let sha = sealed.text_sha256.clone();
        let images = signatures
            .iter()
            .map(signature_image)
            .collect::<Result<Vec<_>>>()?;
        let version_id = Uuid::now_v7();
        let mut vf = sealed.to_fields();
        vf.remove(domain::schema::VOID_FIELD);
        let mut writes = vec![RowWrite::new("agreement_version", Some(version_id), vf)];
        let mut signature_ids = Vec::new();
        let mut blobs = Vec::new();
        for (s, img) in signatures.iter().zip(&images) {
            let id = Uuid::now_v7();
            signature_ids.push(id);
            let mut f = Map::new();
            f.insert("child_id".into(), json!(child_id));
            f.insert("agreement_version_id".into(), json!(version_id));
            f.insert("signer_role".into(), json!(s.role));
            f.insert("signer_name".into(), json!(s.name));
            f.insert("text_sha256".into(), json!(sha));
            f.insert("image_sha256".into(), json!(img.sha256));
            if let Some(strokes) = &s.strokes {
                f.insert("strokes".into(), strokes.clone());
            }
            f.insert("signed_at".into(), json!(now));
            writes.push(RowWrite::new("signature", Some(id), f));
            blobs.push(NewBlob {
                sha256: &img.sha256,
                kind: BlobKind::Signature,
                bytes: &img.png,
            });
        }
        let mut df = Map::new();
        df.insert("status".into(), json!("signed"));
        writes.push(RowWrite::new("agreement_draft", Some(draft_id), df));
        let check = domain_rules(today);
        self.write_rows_with_blobs(writes, &blobs, &check)?;
        Ok(SignedAgreement {
            version_id,
            version,
            text_sha256: sha,
            signature_ids,
        })
    }
}
