//! The store's one error type. Every variant says what went wrong in plain Chinese
//! (shown first in the app) and in English, and nothing is half-written when one is
//! returned: every write is one SQLite transaction.

use domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record broke a domain rule (invalid ID number, unknown category, …).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A photo or signature image was refused (too large, corrupt, a bomb, …).
    #[error(transparent)]
    Photo(#[from] crate::photo::PhotoError),
    /// The record to change or to attach to does not exist on this device.
    #[error("{what} {id} not found on this device")]
    NotFound { what: &'static str, id: String },
    /// The database is encrypted and the key is missing or wrong.
    #[error("the data is encrypted and the PIN/key is missing or wrong")]
    Locked,
    /// The database file belongs to a newer app version.
    #[error(
        "the data was written by a newer app version (schema {found}, this app knows {known})"
    )]
    TooNew { found: i64, known: i64 },
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A stable code for machines and tests.
    pub fn code(&self) -> &str {
        match self {
            StoreError::Domain(e) => e.code,
            StoreError::Photo(e) => e.code(),
            StoreError::NotFound { .. } => "not_found",
            StoreError::Locked => "locked",
            StoreError::TooNew { .. } => "too_new",
            StoreError::Sqlite(_) => "storage",
            StoreError::Io(_) => "io",
            StoreError::Corrupt(_) => "corrupt",
        }
    }

    /// The sentence a child director sees.
    pub fn zh(&self) -> String {
        match self {
            StoreError::Domain(e) => e.zh.clone(),
            StoreError::Photo(e) => e.zh(),
            StoreError::NotFound { what, .. } => format!("在本机找不到这条{}记录", what_zh(what)),
            StoreError::Locked => "数据已加密，请输入正确的 PIN 码".into(),
            StoreError::TooNew { .. } => "数据来自更新版本的应用，请先升级应用".into(),
            StoreError::Sqlite(_) | StoreError::Io(_) => {
                "保存失败（存储出错），已保存的数据不受影响，请重试".into()
            }
            StoreError::Corrupt(_) => "本机数据损坏，请联系管理员".into(),
        }
    }
}

fn what_zh(what: &str) -> &'static str {
    match what {
        "child" => "儿童",
        "visit" => "走访",
        "agreement_draft" => "协议草稿",
        "blob" => "照片",
        "task" => "任务",
        "replaced value" => "被替换的值",
        _ => "",
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
