//! Device-local state that is never synced: forms being filled in (drafts) and photos
//! taken for a visit not yet saved (staged photos).
//!
//! A draft is saved field by field as the director types, so an app killed in the
//! middle of a visit loses nothing; a staged photo has already been through the photo
//! pipeline and moves into the blob store in the visit's own transaction. Both live in
//! the (encrypted) database like everything else, never in the phone's files or gallery.

use crate::blobs::BlobKind;
use crate::error::{Result, StoreError};
use crate::fieldwork::VisitReceipt;
use crate::photo::ProcessedPhoto;
use crate::store::Store;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The largest draft kept (a form's fields as JSON; photos are staged separately).
pub const DRAFT_MAX_BYTES: usize = 64 * 1024;

/// An unfinished form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Draft {
    pub kind: String,
    pub key: String,
    pub data: Value,
    pub updated_at: String,
}

/// A staged photo's small facts (its bytes stay in the database).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StagedPhoto {
    pub id: Uuid,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub thumb: Vec<u8>,
}

fn bad_draft(en: String) -> StoreError {
    domain::DomainError::new("bad_draft", "草稿内容无法保存", en).into()
}

impl Store {
    /// Keeps the names of the villages this device holds (from enrollment), replacing
    /// those known before.
    pub fn set_village_names(
        &mut self,
        names: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        let tx = self.begin()?;
        tx.execute("DELETE FROM village_name", [])?;
        for (code, name) in names {
            tx.execute(
                "INSERT INTO village_name (code, name) VALUES (?1, ?2)",
                params![code, name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Village code → name for the villages whose names are known.
    pub fn village_names(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT code, name FROM village_name")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Saves (replaces) the draft of form `kind` for `key`. Returns when it was saved.
    pub fn save_draft(&mut self, kind: &str, key: &str, data: &Value) -> Result<String> {
        if kind.is_empty() || kind.chars().count() > 40 || key.chars().count() > 80 {
            return Err(bad_draft(format!("bad draft kind/key {kind:?}/{key:?}")));
        }
        let json = serde_json::to_string(data).map_err(|e| bad_draft(e.to_string()))?;
        if json.len() > DRAFT_MAX_BYTES {
            return Err(domain::DomainError::new(
                "draft_too_large",
                "草稿内容太长，请精简文字",
                format!(
                    "the draft is {} bytes; at most {DRAFT_MAX_BYTES}",
                    json.len()
                ),
            )
            .into());
        }
        let at = self.now_china_rfc3339();
        self.conn
            .prepare_cached(
                "INSERT INTO draft (kind, key, data, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            )?
            .execute(params![kind, key, json, at])?;
        Ok(at)
    }

    /// The draft of form `kind` for `key`, if one was saved.
    pub fn draft(&self, kind: &str, key: &str) -> Result<Option<Draft>> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT data, updated_at FROM draft WHERE kind = ?1 AND key = ?2")?
            .query_row(params![kind, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(data, updated_at)| {
            Ok(Draft {
                kind: kind.to_string(),
                key: key.to_string(),
                data: serde_json::from_str(&data)
                    .map_err(|e| StoreError::Corrupt(format!("draft: {e}")))?,
                updated_at,
            })
        })
        .transpose()
    }

    /// Every draft, most recently changed first (the home screen offers to continue).
    pub fn drafts(&self) -> Result<Vec<Draft>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, key, data, updated_at FROM draft ORDER BY updated_at DESC")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
            ))
        })?;
        rows.map(|r| {
            let (kind, key, data, updated_at) = r?;
            Ok(Draft {
                kind,
                key,
                data: serde_json::from_str(&data)
                    .map_err(|e| StoreError::Corrupt(format!("draft: {e}")))?,
                updated_at,
            })
        })
        .collect()
    }

    /// Throws a draft away (after its form was saved, or when the director discards it).
    pub fn discard_draft(&mut self, kind: &str, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM draft WHERE kind = ?1 AND key = ?2")?
            .execute(params![kind, key])?;
        Ok(())
    }

    /// Keeps a processed photo until the visit it was taken for is saved.
    pub fn stage_photo(&mut self, p: &ProcessedPhoto) -> Result<Uuid> {
        let id = Uuid::now_v7();
        self.conn
            .prepare_cached(
                "INSERT INTO staged_photo (id, full_sha256, full, thumb_sha256, thumb, width, height, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id.to_string(),
                p.full_sha256,
                p.full,
                p.thumb_sha256,
                p.thumb,
                p.width,
                p.height,
                self.now_utc_rfc3339()
            ])?;
        Ok(id)
    }

    /// A staged photo's facts and thumbnail.
    pub fn staged_photo(&self, id: Uuid) -> Result<Option<StagedPhoto>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT width, height, length(full), thumb FROM staged_photo WHERE id = ?1",
            )?
            .query_row([id.to_string()], |r| {
                Ok(StagedPhoto {
                    id,
                    width: r.get(0)?,
                    height: r.get(1)?,
                    bytes: r.get::<_, i64>(2)? as u64,
                    thumb: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// Throws a staged photo away.
    pub fn discard_staged_photo(&mut self, id: Uuid) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM staged_photo WHERE id = ?1")?
            .execute([id.to_string()])?;
        Ok(())
    }

    /// Staged photos no draft has named for a day (a form abandoned without a word).
    pub fn prune_staged_photos(&mut self, older_than: chrono::Duration) -> Result<usize> {
        let now = chrono::DateTime::from_timestamp_millis(self.now_ms() as i64).unwrap_or_default();
        let cutoff = (now - older_than).to_rfc3339();
        Ok(self
            .conn
            .execute("DELETE FROM staged_photo WHERE created_at < ?1", [cutoff])?)
    }

    fn load_staged(&self, id: Uuid) -> Result<ProcessedPhoto> {
        self.conn
            .prepare_cached(
                "SELECT full, full_sha256, width, height, thumb, thumb_sha256 FROM staged_photo WHERE id = ?1",
            )?
            .query_row([id.to_string()], |r| {
                Ok(ProcessedPhoto {
                    full: r.get(0)?,
                    full_sha256: r.get(1)?,
                    width: r.get(2)?,
                    height: r.get(3)?,
                    thumb: r.get(4)?,
                    thumb_sha256: r.get(5)?,
                })
            })
            .optional()?
            .ok_or_else(|| {
                domain::DomainError::new(
                    "photo_missing",
                    "这张照片已不在手机上，请重新拍摄",
                    format!("staged photo {id} is not held on this device"),
                )
                .into()
            })
    }

    /// Records a visit with photos staged earlier and, in the same transaction, drops
    /// those staged photos and the form's draft: the visit is saved once, and a retry
    /// after a crash finds either the draft (nothing saved) or the visit (nothing left).
    pub fn record_visit_staged(
        &mut self,
        child_id: Uuid,
        fields: Map<String, Value>,
        staged: &[Uuid],
        referral: Option<Map<String, Value>>,
        draft: Option<(&str, &str)>,
    ) -> Result<VisitReceipt> {
        let photos = staged
            .iter()
            .map(|id| self.load_staged(*id))
            .collect::<Result<Vec<_>>>()?;
        let staged_ids: Vec<String> = staged.iter().map(Uuid::to_string).collect();
        let draft = draft.map(|(k, key)| (k.to_string(), key.to_string()));
        let finish = move |tx: &rusqlite::Connection| -> Result<()> {
            for id in &staged_ids {
                tx.prepare_cached("DELETE FROM staged_photo WHERE id = ?1")?
                    .execute([id])?;
            }
            if let Some((kind, key)) = &draft {
                tx.prepare_cached("DELETE FROM draft WHERE kind = ?1 AND key = ?2")?
                    .execute(params![kind, key])?;
            }
            Ok(())
        };
        self.record_visit_finishing(child_id, fields, &photos, referral, &finish)
    }

    /// A blob's bytes if it is one of `kind` held here (photos and thumbnails shown in
    /// the app; `None` when not held, e.g. a thumbnail not yet fetched).
    pub fn blob_of_kind(&self, sha256: &str, kinds: &[BlobKind]) -> Result<Option<Vec<u8>>> {
        let row: Option<(String, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT kind, bytes FROM blob WHERE sha256 = ?1")?
            .query_row([sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row
            .filter(|(k, _)| kinds.iter().any(|want| want.as_str() == k))
            .map(|(_, b)| b))
    }
}
