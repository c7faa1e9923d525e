//! 一人一档 across villages: one child, one file. A device refuses a second file with an
//! ID number it already holds, but it holds only its own villages: a child who moved
//! and was registered again in the new village has a file in each. The server sees
//! every village, so it finds ID numbers that appear in the files of two or more
//! villages and flags them for the supervisor, who has the old file closed or the two
//! merged.
//!
//! The data comes from the store ([`crate::store::SyncStore::child_id_numbers`]: the
//! winning `id_number` of every child, with its tombstone); which files count
//! ([`live_files`]) and the grouping are here, once, pure.
//! ID numbers are compared after [`domain::id_number::normalize_id_number`] (what older
//! devices may have sent unnormalised still matches) and shown masked only.

use crate::error::StoreError;
use crate::model::Principal;
use crate::store::{Database, StoredIdNumber};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One child's file as far as this check needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdNumberFile {
    pub child_id: Uuid,
    pub village: String,
    /// The ID number as stored (normalised here before comparing).
    pub id_number: String,
}

/// One file of a shared ID number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SharedFile {
    pub child_id: Uuid,
    pub village: String,
    /// Whether the asking person's area holds this village (its file can be opened).
    pub in_area: bool,
}

/// An ID number found in the files of two or more villages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SharedIdNumber {
    /// The ID number masked (never shown whole).
    pub id_number_masked: String,
    /// Every file carrying it, by village then child.
    pub files: Vec<SharedFile>,
}

/// The ID numbers of `files` that appear in two or more villages, each with all its
/// files; ordered by masked number. Empty or unreadable numbers are skipped.
pub fn shared_id_numbers(
    files: impl IntoIterator<Item = IdNumberFile>,
) -> Vec<(String, Vec<IdNumberFile>)> {
    let mut by_number: BTreeMap<String, Vec<IdNumberFile>> = BTreeMap::new();
    for f in files {
        let n = domain::id_number::normalize_id_number(&f.id_number);
        if n.is_empty() {
            continue;
        }
        by_number.entry(n).or_default().push(f);
    }
    by_number
        .into_iter()
        .filter(|(_, files)| {
            let first = &files[0].village;
            files.iter().any(|f| &f.village != first)
        })
        .map(|(n, mut files)| {
            files.sort_by(|a, b| (&a.village, a.child_id).cmp(&(&b.village, b.child_id)));
            (n, files)
        })
        .collect()
}

/// The files of children not deleted ([`domain::schema::is_deleted`]) whose ID number
/// is filled in.
pub fn live_files(stored: Vec<StoredIdNumber>) -> impl Iterator<Item = IdNumberFile> {
    stored.into_iter().filter_map(|s| {
        let tombstone = s
            .tombstone
            .as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
        if domain::schema::is_deleted(tombstone.as_ref()) {
            return None;
        }
        let id_number = serde_json::from_str::<Option<String>>(&s.id_number).ok()??;
        Some(IdNumberFile {
            child_id: s.child_id,
            village: s.village,
            id_number,
        })
    })
}

/// The shared ID numbers a person should see: those with a file in their area (the
/// other files are listed with their village, so the supervisor knows whom to call).
pub async fn for_principal(
    db: &dyn Database,
    principal: &Principal,
) -> Result<Vec<SharedIdNumber>, StoreError> {
    let files = live_files(db.child_id_numbers().await?);
    let mut out: Vec<SharedIdNumber> = shared_id_numbers(files)
        .into_iter()
        .filter(|(_, files)| files.iter().any(|f| principal.can_read(&f.village)))
        .map(|(n, files)| SharedIdNumber {
            id_number_masked: domain::id_number::mask_id_number(&n),
            files: files
                .into_iter()
                .map(|f| SharedFile {
                    in_area: principal.can_read(&f.village),
                    child_id: f.child_id,
                    village: f.village,
                })
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| a.id_number_masked.cmp(&b.id_number_masked));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(child: u128, village: &str, id: &str) -> IdNumberFile {
        IdNumberFile {
            child_id: Uuid::from_u128(child),
            village: village.into(),
            id_number: id.into(),
        }
    }

    #[test]
    fn a_number_in_two_villages_is_shared_one_village_twice_is_not() {
        let id = "11010519491231002X";
        let shared = shared_id_numbers([
            file(1, "A", id),
            // Typed the way people type on an older device: still the same number.
            file(2, "C", "11010519491231002x"),
            file(3, "B", "110105194912310037"),
            file(4, "B", "110105194912310037"),
            file(5, "B", ""),
            file(6, "C", ""),
        ]);
        assert_eq!(shared.len(), 1, "{shared:?}");
        assert_eq!(shared[0].0, id);
        let villages: Vec<&str> = shared[0].1.iter().map(|f| f.village.as_str()).collect();
        assert_eq!(villages, vec!["A", "C"]);
    }

    #[test]
    fn a_deleted_childs_file_and_an_empty_number_do_not_count() {
        let stored = |child: u128, id: &str, tombstone: Option<&str>| StoredIdNumber {
            child_id: Uuid::from_u128(child),
            village: "A".into(),
            id_number: id.into(),
            tombstone: tombstone.map(str::to_string),
        };
        let live: Vec<u128> = live_files(vec![
            stored(1, "\"11010519491231002X\"", None),
            stored(2, "\"11010519491231002X\"", Some("false")),
            stored(3, "\"11010519491231002X\"", Some("true")),
            stored(4, "null", None),
        ])
        .map(|f| f.child_id.as_u128())
        .collect();
        assert_eq!(live, vec![1, 2]);
    }
}
