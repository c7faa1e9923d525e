//! The one error every command answers with: a stable code for machines, the sentence
//! in plain Chinese (shown first), the same in English, and the form field at fault.
//!
//! Every failure below the device API — a domain rule, the store, the network, a
//! rejection by the server — becomes a [`UserError`] here, once, so the Tauri app, the
//! bridge and `fieldctl` all say the same thing the same way.

use field_store::sync::SyncError;
use field_store::StoreError;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What went wrong, said so a child director can act on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{en}")]
pub struct UserError {
    /// Stable code (`invalid_id_number`, `wrong_pin`, `network`, …).
    pub code: String,
    /// 给用户看的中文说明。
    pub zh: String,
    /// The same sentence in English.
    pub en: String,
    /// The form field at fault, when there is one (for the form to highlight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
}

impl UserError {
    /// An error with its code and both sentences.
    pub fn new(code: &str, zh: impl Into<String>, en: impl Into<String>) -> UserError {
        UserError {
            code: code.to_string(),
            zh: zh.into(),
            en: en.into(),
            field: None,
        }
    }

    /// The same error, naming the field at fault.
    pub fn on_field(mut self, field: impl Into<String>) -> UserError {
        self.field = Some(field.into());
        self
    }

    /// A request whose arguments could not be read (a shell or script bug, or a
    /// hand-written `fieldctl` call).
    pub fn bad_request(en: impl std::fmt::Display) -> UserError {
        UserError::new(
            "bad_request",
            "请求内容有误，请检查填写的内容",
            format!("bad request: {en}"),
        )
    }

    /// A command that needs the app unlocked.
    pub fn locked() -> UserError {
        UserError::new(
            "locked",
            "应用已锁定，请输入 PIN 码解锁",
            "the app is locked; enter your PIN to unlock",
        )
    }

    /// A command that needs this device enrolled.
    pub fn not_enrolled() -> UserError {
        UserError::new(
            "not_enrolled",
            "手机尚未登记，请先输入服务器地址和登记码",
            "this phone is not enrolled yet; enter the server address and enrollment code first",
        )
    }

    /// A record that is not on this device.
    pub fn not_found(what_zh: &str, what_en: &str) -> UserError {
        UserError::new(
            "not_found",
            format!("在本机找不到这条{what_zh}"),
            format!("this {what_en} is not on this device"),
        )
    }
}

impl From<domain::DomainError> for UserError {
    fn from(e: domain::DomainError) -> UserError {
        UserError {
            code: e.code.to_string(),
            zh: e.zh,
            en: e.en,
            field: e.field,
        }
    }
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> UserError {
        match e {
            StoreError::Domain(d) => d.into(),
            other => UserError::new(other.code(), other.zh(), other.to_string()),
        }
    }
}

impl From<SyncError> for UserError {
    fn from(e: SyncError) -> UserError {
        match e {
            SyncError::Store(s) => s.into(),
            SyncError::Refused { code, message, .. } => {
                let text = rejection_text(&code);
                UserError::new(
                    &code,
                    format!("服务器拒绝了请求：{}{}", text.zh, text.what_to_do_zh),
                    format!("the server refused the request ({code}): {message}"),
                )
            }
            other => UserError::new(other.code(), other.zh(), other.to_string()),
        }
    }
}

/// What a rejection code means and what to do about it: `domain::rejection` is the one
/// table of these sentences.
pub use domain::rejection::{explain as rejection_text, RejectionText};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_and_domain_errors_keep_their_code_and_field() {
        let d = domain::DomainError::new("invalid_id_number", "身份证号不对", "bad id")
            .on_field("id_number");
        let u: UserError = StoreError::Domain(d).into();
        assert_eq!(u.code, "invalid_id_number");
        assert_eq!(u.field.as_deref(), Some("id_number"));
        assert_eq!(u.zh, "身份证号不对");
        let net: UserError = SyncError::Network("connection refused".into()).into();
        assert_eq!(net.code, "network");
        assert!(net.zh.contains("保存在手机上"));
    }
}
