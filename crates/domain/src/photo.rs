//! A photo's record: who and which visit it belongs to, and the SHA-256 names of the
//! resized image and its thumbnail (the blobs travel separately, content-addressed).
//! Written once; a wrong photo is voided, never replaced.

use crate::error::DomainError;
use crate::record::{self, check_sha256_hex, not_in_future, timestamp_date, Fields, Void};
use crate::schema::PHOTO;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One photo (table `photo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Photo {
    /// The child in the photo.
    pub child_id: Uuid,
    /// The visit the photo was taken on, if any.
    pub visit_id: Option<Uuid>,
    /// SHA-256 (lowercase hex) of the re-encoded image blob.
    pub blob_sha256: String,
    /// SHA-256 (lowercase hex) of the thumbnail blob.
    pub thumb_sha256: String,
    /// Width in pixels after resizing.
    pub width: u32,
    /// Height in pixels after resizing.
    pub height: u32,
    /// Size of the image blob in bytes.
    pub bytes: u32,
    /// When the photo was taken, as the device wrote it (RFC 3339, local offset).
    pub taken_at: String,
    /// Set when the photo is voided, with the reason.
    pub voided: Option<Void>,
}

impl Photo {
    /// The photo's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&PHOTO, self)
    }

    /// Reads a photo from a row's fields (schema checks only).
    pub fn from_fields(fields: &Fields) -> Result<Photo, DomainError> {
        record::from_fields(&PHOTO, fields, |f| {
            record::json_field::<Void>(f, "voided").map(|_| ())
        })
    }

    /// Checks the record before it is saved: schema types, well-formed hashes, a
    /// taken-at time that is not in the future, a void with a reason.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&PHOTO, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        check_sha256_hex("blob_sha256", &self.blob_sha256)?;
        check_sha256_hex("thumb_sha256", &self.thumb_sha256)?;
        not_in_future(
            "taken_at",
            timestamp_date("taken_at", &self.taken_at)?,
            today,
        )?;
        if let Some(void) = &self.voided {
            void.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::tests::today;

    fn photo() -> Photo {
        Photo {
            child_id: Uuid::now_v7(),
            visit_id: Some(Uuid::now_v7()),
            blob_sha256: "ab".repeat(32),
            thumb_sha256: "cd".repeat(32),
            width: 1600,
            height: 1200,
            bytes: 312_000,
            taken_at: "2026-05-18T15:21:09+08:00".into(),
            voided: None,
        }
    }

    #[test]
    fn a_photo_with_hashes_and_a_past_time_is_valid_and_round_trips() {
        let p = photo();
        assert_eq!(p.validate(today()), Ok(()));
        assert_eq!(Photo::from_fields(&p.to_fields()), Ok(p));
    }

    #[test]
    fn hashes_must_be_lowercase_hex_sha256() {
        let mut p = photo();
        p.blob_sha256 = "AB".repeat(32);
        let e = p.validate(today()).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("invalid_hash", Some("blob_sha256"))
        );
    }

    #[test]
    fn sizes_outside_the_schema_bounds_are_refused() {
        let mut p = photo();
        p.width = 0;
        assert_eq!(p.validate(today()).unwrap_err().code, "bad_value");
    }
}
