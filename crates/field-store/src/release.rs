//! Whether a newer app version is offered. The server's pull answer carries the newest
//! version its deployment offers (`PullResponse::latest_app_version`, configured by the
//! operator); the phone keeps it here and, while it runs an older version, the app says
//! in plain words that an update is available. Device-local, never synced.

use crate::error::Result;
use crate::store::Store;
use rusqlite::OptionalExtension;
use std::cmp::Ordering;

/// Orders two app versions as people number them (`0.10.0` after `0.9.2`; `1.2` =
/// `1.2.0`): dot-separated parts, numbers by value, a part with letters after the
/// number (`1.2.0-rc1`) before the same number alone.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(v: &str) -> Vec<(u64, String)> {
        v.trim()
            .trim_start_matches(['v', 'V'])
            .split(['.', '-', '+'])
            .map(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                let rest = p[digits.len()..].to_string();
                (digits.parse().unwrap_or(0), rest)
            })
            .collect()
    }
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).cloned().unwrap_or((0, String::new()));
        let y = pb.get(i).cloned().unwrap_or((0, String::new()));
        let by_number = x.0.cmp(&y.0);
        if by_number != Ordering::Equal {
            return by_number;
        }
        // `1-rc1` before `1`: a suffix marks a pre-release.
        let by_suffix = match (x.1.is_empty(), y.1.is_empty()) {
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => x.1.cmp(&y.1),
        };
        if by_suffix != Ordering::Equal {
            return by_suffix;
        }
    }
    Ordering::Equal
}

impl Store {
    /// Keeps what the server said of the newest version (None: it said nothing, and a
    /// version noted earlier is forgotten). Written only when it changes.
    pub fn note_latest_app_version(&mut self, latest: Option<&str>) -> Result<()> {
        let latest = latest.map(str::trim).filter(|v| !v.is_empty());
        if self.latest_app_version()?.as_deref() == latest {
            return Ok(());
        }
        match latest {
            Some(v) => {
                let v: String = v.chars().take(40).collect();
                self.conn.execute(
                    "INSERT INTO app_release (id, latest, noted_at) VALUES (1, ?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET latest = excluded.latest, noted_at = excluded.noted_at",
                    rusqlite::params![v, self.now_china_rfc3339()],
                )?;
            }
            None => {
                self.conn.execute("DELETE FROM app_release", [])?;
            }
        }
        Ok(())
    }

    /// The newest version the server last said it offers.
    pub fn latest_app_version(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT latest FROM app_release WHERE id = 1")?
            .query_row([], |r| r.get(0))
            .optional()?)
    }

    /// The version to update to, when the server offers one newer than `running`.
    pub fn update_available(&self, running: &str) -> Result<Option<String>> {
        Ok(self
            .latest_app_version()?
            .filter(|latest| compare_versions(latest, running) == Ordering::Greater))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_ordered_as_people_number_them() {
        use Ordering::*;
        for (a, b, want) in [
            ("0.2.0", "0.1.0", Greater),
            ("0.10.0", "0.9.2", Greater),
            ("1.2", "1.2.0", Equal),
            ("v1.2.1", "1.2.0", Greater),
            ("1.2.0-rc1", "1.2.0", Less),
            ("1.2.0", "1.2.0-rc1", Greater),
            ("0.1.0", "0.1.0", Equal),
            ("", "0.1.0", Less),
            ("十", "0.0.1", Less),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn an_update_is_available_only_while_the_phone_runs_an_older_version() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(s.update_available("0.1.0").unwrap(), None);
        s.note_latest_app_version(Some("0.2.0")).unwrap();
        assert_eq!(
            s.update_available("0.1.0").unwrap().as_deref(),
            Some("0.2.0")
        );
        assert_eq!(s.update_available("0.2.0").unwrap(), None, "up to date");
        assert_eq!(
            s.update_available("0.3.0").unwrap(),
            None,
            "newer than offered"
        );
        s.note_latest_app_version(None).unwrap();
        assert_eq!(
            s.update_available("0.1.0").unwrap(),
            None,
            "the server stopped saying"
        );
    }
}
