//! 登记告知: when a child is registered, the guardian is told in plain words what is
//! recorded about the child and why, and acknowledges it with a signature kept like an
//! agreement signature (table `consent`): bound to the SHA-256 of the exact notice text
//! shown, never edited, voided with a reason if made by mistake.

use crate::codes::GuardianRole;
use crate::error::DomainError;
use crate::record::{
    self, check_sha256_hex, not_in_future, required_text, timestamp_date, Fields, Void,
};
use crate::schema::CONSENT;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The version of the notice text below. A new wording is a new version; signed
/// acknowledgements keep the hash of the text their signer saw.
pub const NOTICE_VERSION: u32 = 1;

/// The registration notice read to (or by) the guardian, zh-CN. Its SHA-256 is what an
/// acknowledgement signs.
pub const NOTICE_ZH: &str = "儿童信息登记告知书（第1版）
为了依法做好儿童关爱保护工作，儿童主任将登记以下信息：儿童的姓名、性别、出生日期、身份证号、住址、健康和上学情况；父母、监护人和受托照护人的姓名、联系方式和去向；每次走访的情况和照片；委托照护协议。
这些信息只用于儿童关爱保护、救助和帮扶工作，由民政部门依法管理。信息加密保存，只有负责本村的儿童主任、乡镇（街道）儿童督导员和民政工作人员可以查看，每次查看都有记录。信息不公开，不用于其他用途，不会发到微信群等聊天软件。
您可以向儿童主任或乡镇（街道）未成年人保护工作站查询、更正这些信息。
依据：《中华人民共和国未成年人保护法》《中华人民共和国个人信息保护法》。
本人已阅读（或听儿童主任读过）以上内容。
";

/// The same notice in English (for the app's English mode; not what is signed).
pub const NOTICE_EN: &str = "Notice of registration (version 1)
To protect and care for children as the law requires, the village child director records: the child's name, sex, date of birth, ID number, address, health and schooling; the names, contacts and whereabouts of the parents, guardians and entrusted caregiver; each visit and its photos; the care agreement.
This information is used only for child protection, assistance and support, and is managed by the civil-affairs department. It is stored encrypted; only the village's child director, the township child supervisor and civil-affairs staff may see it, and every view is logged. It is not published, not used for anything else and never sent to chat groups.
You may ask the child director or the township child-protection station to see or correct it.
Basis: the Law on the Protection of Minors and the Personal Information Protection Law of the PRC.
I have read (or had read to me) the above.
";

/// SHA-256 of the current notice text.
pub fn notice_sha256() -> String {
    crate::agreement::text_sha256(NOTICE_ZH)
}

/// A guardian's signed acknowledgement of the registration notice (table `consent`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Consent {
    /// The child registered.
    pub child_id: Uuid,
    /// The notice version shown.
    pub notice_version: u32,
    /// SHA-256 of the notice text shown: must be that version's hash.
    pub notice_sha256: String,
    /// Who acknowledged it.
    pub signer_name: String,
    /// What the signer is to the child.
    pub signer_role: GuardianRole,
    /// SHA-256 of the signature image blob.
    pub image_sha256: String,
    /// The pen strokes of the signature, as captured.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub strokes: Option<Value>,
    /// When it was signed (RFC 3339, local offset).
    pub signed_at: String,
    /// Set when voided, with the reason.
    pub voided: Option<Void>,
}

impl Consent {
    /// The acknowledgement's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&CONSENT, self)
    }

    /// Reads an acknowledgement from a row's fields (schema checks only).
    pub fn from_fields(fields: &Fields) -> Result<Consent, DomainError> {
        record::from_fields(&CONSENT, fields, |f| {
            record::json_field::<Void>(f, "voided").map(|_| ())
        })
    }

    /// Checks the record before it is saved.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&CONSENT, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: a signer, well-formed hashes, the
    /// hash of the notice version it names, a signing time not in the future.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        required_text("signer_name", &self.signer_name)?;
        check_sha256_hex("notice_sha256", &self.notice_sha256)?;
        check_sha256_hex("image_sha256", &self.image_sha256)?;
        if self.notice_version == NOTICE_VERSION && self.notice_sha256 != notice_sha256() {
            return Err(DomainError::new(
                "consent_not_bound",
                "签名与告知书内容不一致，请重新签名",
                "the acknowledgement does not sign this version's notice text",
            )
            .on_field("notice_sha256"));
        }
        not_in_future(
            "signed_at",
            timestamp_date("signed_at", &self.signed_at)?,
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

    fn consent() -> Consent {
        Consent {
            child_id: Uuid::now_v7(),
            notice_version: NOTICE_VERSION,
            notice_sha256: notice_sha256(),
            signer_name: "王秀英".into(),
            signer_role: GuardianRole::Grandparent,
            image_sha256: "ab".repeat(32),
            strokes: Some(
                serde_json::json!({"w": 300, "h": 150, "strokes": [[[1, 2, 0], [3, 4, 16]]]}),
            ),
            signed_at: "2026-05-20T10:00:00+08:00".into(),
            voided: None,
        }
    }

    #[test]
    fn an_acknowledgement_signs_the_exact_notice_shown() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 20).unwrap();
        assert_eq!(consent().validate(today), Ok(()));
        let mut other = consent();
        other.notice_sha256 = crate::agreement::text_sha256("另一份告知书");
        assert_eq!(other.validate(today).unwrap_err().code, "consent_not_bound");
        let mut unsigned = consent();
        unsigned.signer_name = "  ".into();
        assert!(unsigned.validate(today).is_err());
        let c = consent();
        assert_eq!(Consent::from_fields(&c.to_fields()).unwrap(), c);
    }

    #[test]
    fn the_notice_says_what_is_recorded_and_who_sees_it() {
        for needle in ["身份证号", "走访", "照片", "加密", "查看", "个人信息保护法"]
        {
            assert!(NOTICE_ZH.contains(needle), "{needle}");
        }
        assert_eq!(notice_sha256().len(), 64);
    }
}
