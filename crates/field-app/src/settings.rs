//! The few settings that are not personal data and are needed before unlocking (the
//! unlock screen's language): kept in a plain `settings.json` in the data folder.

use crate::lock::write_atomically;
use crate::types::Language;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Auto-lock delays the settings screen offers, seconds.
pub const AUTO_LOCK_CHOICES: &[u32] = &[60, 2 * 60, 5 * 60, 10 * 60, 30 * 60];
/// The default auto-lock delay: five minutes without a touch.
pub const DEFAULT_AUTO_LOCK_SECS: u32 = 5 * 60;

/// The settings of one data folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub language: Language,
    #[serde(default = "default_auto_lock")]
    pub auto_lock_secs: u32,
}

fn default_auto_lock() -> u32 {
    DEFAULT_AUTO_LOCK_SECS
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            language: Language::Zh,
            auto_lock_secs: DEFAULT_AUTO_LOCK_SECS,
        }
    }
}

fn path(dir: &Path) -> PathBuf {
    dir.join("settings.json")
}

impl Settings {
    /// The folder's settings (defaults when none were saved or the file is damaged).
    pub fn load(dir: &Path) -> Settings {
        std::fs::read(path(dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomically(&path(dir), &bytes)
    }
}
