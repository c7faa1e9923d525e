//! What the phone remembers of an enrollment before its store exists, so that
//! enrolling is safe to repeat: the **device id** it enrolls with, minted once and kept
//! until the store holds the enrollment (the server redeems a code again for the id it
//! enrolled, as long as that device never used its token — so an app killed between
//! enrolling and choosing the PIN enrolls again with the same code), and the **server
//! address** typed, so the Enroll screen starts with it.
//!
//! A plain `enrolling.json` in the data folder: a random UUID and a server address
//! are not personal data. The code, the token and everything else the server answers
//! are never written here (the answer stays in memory until the PIN encrypts the
//! store that keeps it).

use crate::lock::write_atomically;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The contents of `enrolling.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolling {
    /// The id this phone enrolls with until its store exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Uuid>,
    /// The server address last typed on the Enroll screen (checked, normalised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
}

fn path(dir: &Path) -> PathBuf {
    dir.join("enrolling.json")
}

impl Enrolling {
    /// What the folder remembers (nothing when the file is missing or damaged).
    pub fn load(dir: &Path) -> Enrolling {
        std::fs::read(path(dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Keeps it, durably (see [`write_atomically`]).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomically(&path(dir), &bytes)
    }

    /// The id to enroll with: the one kept, else a new one — kept before it is returned,
    /// so no request ever carries an id the next start would not know.
    pub fn device_id_for(dir: &Path, server_url: &str) -> std::io::Result<Uuid> {
        let mut e = Enrolling::load(dir);
        let id = *e.device_id.get_or_insert_with(Uuid::now_v7);
        e.server_url = Some(server_url.to_string());
        e.save(dir)?;
        Ok(id)
    }

    /// A new id in place of one the server holds for another enrollment (nothing was
    /// ever written under it on this phone).
    pub fn new_device_id(dir: &Path) -> std::io::Result<Uuid> {
        let mut e = Enrolling::load(dir);
        let id = Uuid::now_v7();
        e.device_id = Some(id);
        e.save(dir)?;
        Ok(id)
    }

    /// Remembers the address typed (best effort: it only saves typing).
    pub fn remember_server(dir: &Path, server_url: &str) {
        let mut e = Enrolling::load(dir);
        if e.server_url.as_deref() != Some(server_url) {
            e.server_url = Some(server_url.to_string());
            let _ = e.save(dir);
        }
    }

    /// The store holds the enrollment now: the id is its own from here on. The address
    /// stays (a phone wiped after too many wrong PINs enrolls with it again).
    pub fn enrolled(dir: &Path) {
        let mut e = Enrolling::load(dir);
        if e.device_id.take().is_some() {
            let _ = e.save(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_minted_once_and_kept_until_the_store_holds_the_enrollment() {
        let dir = tempfile::tempdir().unwrap();
        let url = "https://tonghu.example.cn";
        let id = Enrolling::device_id_for(dir.path(), url).unwrap();
        assert_eq!(Enrolling::device_id_for(dir.path(), url).unwrap(), id);
        let kept = Enrolling::load(dir.path());
        assert_eq!(kept.device_id, Some(id));
        assert_eq!(kept.server_url.as_deref(), Some(url));
        let raw = std::fs::read_to_string(dir.path().join("enrolling.json")).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&raw).unwrap(),
            serde_json::json!({"device_id": id, "server_url": url}),
            "nothing else is written"
        );
        let other = Enrolling::new_device_id(dir.path()).unwrap();
        assert_ne!(other, id);
        assert_eq!(Enrolling::device_id_for(dir.path(), url).unwrap(), other);
        Enrolling::enrolled(dir.path());
        let after = Enrolling::load(dir.path());
        assert_eq!(after.device_id, None);
        assert_eq!(after.server_url.as_deref(), Some(url), "the address stays");
        std::fs::write(dir.path().join("enrolling.json"), b"{not json").unwrap();
        assert_eq!(Enrolling::load(dir.path()), Enrolling::default());
    }
}
