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

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $text:literal, )*) => {
        /// A [`UserError`]'s stable code. The device API's own codes are variants, so
        /// code is compared with them, never with text; a code from below it (a domain
        /// rule, the store, a server's refusal) is carried as [`Code::Other`] with the
        /// code it came with. On the wire every code is its text (`"locked"`).
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
            /// A code from a domain rule, the store or the server, as it came.
            Other(String),
        }

        impl Code {
            /// The code as text.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Code::$variant => $text, )*
                    Code::Other(s) => s,
                }
            }
        }

        impl From<&str> for Code {
            fn from(s: &str) -> Code {
                match s {
                    $( $text => Code::$variant, )*
                    other => Code::Other(other.to_string()),
                }
            }
        }
    };
}

codes! {
    /// The app is locked: unlock with the PIN first.
    Locked = "locked",
    /// This phone is not enrolled.
    NotEnrolled = "not_enrolled",
    /// This phone is already enrolled.
    AlreadyEnrolled = "already_enrolled",
    /// A script opened a PIN-protected folder without the PIN.
    PinRequired = "pin_required",
    /// No PIN has been chosen yet.
    NoPin = "no_pin",
    /// A PIN is already chosen.
    PinAlreadySet = "pin_already_set",
    /// The new PIN is too easy to guess.
    WeakPin = "weak_pin",
    /// The PIN is wrong.
    WrongPin = "wrong_pin",
    /// Too many wrong PINs: wait.
    PinWait = "pin_wait",
    /// Too many wrong PINs: the data was erased.
    Wiped = "wiped",
    /// The key file cannot be read.
    KeyDamaged = "key_damaged",
    /// The server address is not one.
    BadServerUrl = "bad_server_url",
    /// No enrollment code typed.
    CodeRequired = "code_required",
    /// An auto-lock delay outside the list.
    BadAutoLock = "bad_auto_lock",
    /// An image that is not base64.
    BadImageData = "bad_image_data",
    /// A referral without its child.
    ChildRequired = "child_required",
    /// A referral filled in without the referral action.
    ReferralNeedsAction = "referral_needs_action",
    /// The agreement changed since it was read.
    AgreementChanged = "agreement_changed",
    /// No such command.
    UnknownCommand = "unknown_command",
    /// An argument no command has (`nickname`).
    UnknownField = "unknown_field",
    /// A code outside its list (`watch`).
    UnknownCode = "unknown_code",
    /// A value of the wrong kind (`maybe` for yes/no).
    BadValue = "bad_value",
    /// A required argument left out.
    Required = "required",
    /// Arguments that could not be read at all.
    BadRequest = "bad_request",
    /// A record that is not on this phone.
    NotFound = "not_found",
    /// A request from a page that is not the app's (the bridge).
    Forbidden = "forbidden",
    /// A bug: the app could not do what it should.
    Internal = "internal",
    /// The phone's storage failed.
    Storage = "storage",
    /// A file could not be read or written.
    Io = "io",
    /// Stored data is damaged.
    Corrupt = "corrupt",
    /// The server could not be reached.
    Network = "network",
    /// The server does not know this phone's token.
    Unauthorized = "unauthorized",
    /// This phone was revoked.
    DeviceRevoked = "device_revoked",
    /// A command line that cannot be read (`fieldctl`).
    Usage = "usage",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Code {
    fn from(s: String) -> Code {
        Code::from(s.as_str())
    }
}

impl From<&String> for Code {
    fn from(s: &String) -> Code {
        Code::from(s.as_str())
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
        Ok(Code::from(String::deserialize(d)?))
    }
}

/// What went wrong, said so a child director can act on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{en}")]
pub struct UserError {
    /// Stable code (`invalid_id_number`, `wrong_pin`, `network`, …).
    #[ts(as = "String")]
    pub code: Code,
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
    pub fn new(code: impl Into<Code>, zh: impl Into<String>, en: impl Into<String>) -> UserError {
        UserError {
            code: code.into(),
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
            Code::BadRequest,
            "请求内容有误，请检查填写的内容",
            format!("bad request: {en}"),
        )
    }

    /// The same error, its field read as under `parent` (`pin` → `terms.pin`).
    pub fn on_field_under(mut self, parent: &str) -> UserError {
        self.field = Some(match self.field.take() {
            Some(f) => format!("{parent}.{f}"),
            None => parent.to_string(),
        });
        self
    }

    /// A bug: something that cannot fail did (a serialisation, a thread).
    pub fn internal(e: impl std::fmt::Display) -> UserError {
        UserError::new(Code::Internal, "应用内部出错，请重试", e.to_string())
    }

    /// A command that needs the app unlocked.
    pub fn locked() -> UserError {
        UserError::new(
            Code::Locked,
            "应用已锁定，请输入 PIN 码解锁",
            "the app is locked; enter your PIN to unlock",
        )
    }

    /// A command that needs this device enrolled.
    pub fn not_enrolled() -> UserError {
        UserError::new(
            Code::NotEnrolled,
            "手机尚未登记，请先输入服务器地址和登记码",
            "this phone is not enrolled yet; enter the server address and enrollment code first",
        )
    }

    /// A record that is not on this device.
    pub fn not_found(what_zh: &str, what_en: &str) -> UserError {
        UserError::new(
            Code::NotFound,
            format!("在本机找不到这条{what_zh}"),
            format!("this {what_en} is not on this device"),
        )
    }
}

impl From<domain::DomainError> for UserError {
    fn from(e: domain::DomainError) -> UserError {
        UserError {
            code: Code::from(e.code),
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
                    code.as_str(),
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
