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
                    format!("服务器拒绝了请求：{}{}", text.zh, text.todo_zh),
                    format!("the server refused the request ({code}): {message}"),
                )
            }
            other => UserError::new(other.code(), other.zh(), other.to_string()),
        }
    }
}

/// What a rejection code means and what the director can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectionText {
    pub zh: &'static str,
    pub todo_zh: &'static str,
    pub en: &'static str,
    pub todo_en: &'static str,
}

/// The Chinese sentence (and what to do) for every code the server can refuse a change
/// or a request with. An unknown code still gets a sentence that says what to do.
pub fn rejection_text(code: &str) -> RejectionText {
    let t = |zh, todo_zh, en, todo_en| RejectionText {
        zh,
        todo_zh,
        en,
        todo_en,
    };
    match code {
        "out_of_scope" => t(
            "这条记录不属于您负责的村。",
            "如果孩子已搬到别的村，请联系乡镇督导员办理转出；否则请核对所在村后重新填写。",
            "this record is not in a village you are responsible for.",
            "If the child moved, ask the township supervisor to transfer the file; otherwise check the village and enter it again.",
        ),
        "unknown_village" => t(
            "服务器上没有这个村。",
            "请核对所在村，或联系乡镇督导员。",
            "the server does not know this village.",
            "Check the village, or ask the township supervisor.",
        ),
        "scope_mismatch" => t(
            "记录所属的村与孩子的村不一致。",
            "请打开孩子的档案核对所在村后重新保存。",
            "the record's village does not match the child's village.",
            "Open the child's file, check the village and save again.",
        ),
        "write_once" => t(
            "这条记录保存后不能修改。",
            "如有错误，请作废后重新登记。",
            "this record cannot be changed once saved.",
            "If it is wrong, void it and record it again.",
        ),
        "bad_value" | "unknown_field" | "unknown_table" => t(
            "记录中有服务器不认识的内容，可能是应用版本太旧。",
            "请升级应用后重试；如仍不行，请联系乡镇督导员。",
            "the record holds something the server does not accept; the app may be out of date.",
            "Update the app and try again; if it persists, ask the township supervisor.",
        ),
        "op_id_conflict" | "bad_device_seq" | "wrong_device" | "seq_reused" | "seq_gap" => t(
            "服务器发现这台手机的记录编号有冲突。",
            "数据仍保存在手机上；请联系乡镇督导员检查这台手机。",
            "the server found conflicting record numbers from this phone.",
            "Your data is still on the phone; ask the township supervisor to check this phone.",
        ),
        "clock_ahead" => t(
            "手机时间比服务器快太多。",
            "请在手机设置中打开“自动设置时间”，然后再同步。",
            "the phone's clock is too far ahead of the server.",
            "Turn on automatic time in the phone's settings, then sync again.",
        ),
        "device_revoked" => t(
            "这台手机已被停用。",
            "请联系乡镇督导员。",
            "this phone was revoked.",
            "Contact the township supervisor.",
        ),
        "too_large" | "payload_too_large" => t(
            "记录内容太大。",
            "请精简文字或减少照片后重新保存。",
            "the record is too large.",
            "Shorten the text or use fewer photos and save again.",
        ),
        _ => t(
            "服务器没有接受这条记录。",
            "数据仍保存在手机上；请联系乡镇督导员。",
            "the server did not accept this record.",
            "Your data is still on the phone; ask the township supervisor.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_code_the_server_sends_has_a_chinese_sentence_and_a_next_step() {
        let generic = rejection_text("something_new");
        for code in [
            "out_of_scope",
            "unknown_village",
            "scope_mismatch",
            "write_once",
            "bad_value",
            "unknown_field",
            "unknown_table",
            "op_id_conflict",
            "bad_device_seq",
            "wrong_device",
            "clock_ahead",
            "device_revoked",
        ] {
            let t = rejection_text(code);
            assert_ne!(t, generic, "{code} has its own sentence");
            assert!(!t.zh.is_empty() && !t.todo_zh.is_empty(), "{code}");
            assert!(t.zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
        }
        assert!(generic.todo_zh.contains("仍保存在手机上"));
    }

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
