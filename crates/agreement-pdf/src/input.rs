//! What a printable copy is made from: plain data the caller fills in from the sealed
//! agreement version, its parties and its signatures. No handle into a store, no type of
//! another crate, so the field app, a CLI or a test can build it alike.

use serde::{Deserialize, Serialize};

/// Who signs: 甲方, 乙方 or 见证方 (the same three roles as `domain::SignerRole`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerRole {
    /// 甲方（委托人）: the parent or guardian who entrusts the child.
    Principal,
    /// 乙方（受托照护人）: the entrusted caregiver.
    Caregiver,
    /// 见证方: the village committee or the child director.
    Witness,
}

impl SignerRole {
    /// The stable code, as `domain::SignerRole::code` spells it.
    pub fn code(self) -> &'static str {
        match self {
            SignerRole::Principal => "principal",
            SignerRole::Caregiver => "caregiver",
            SignerRole::Witness => "witness",
        }
    }

    /// The role as the agreement names it.
    pub fn label_zh(self) -> &'static str {
        match self {
            SignerRole::Principal => "甲方（委托人）",
            SignerRole::Caregiver => "乙方（受托照护人）",
            SignerRole::Witness => "见证方",
        }
    }

    /// The order of the roles on the page: 甲, 乙, then the witness.
    pub(crate) fn rank(self) -> u8 {
        match self {
            SignerRole::Principal => 0,
            SignerRole::Caregiver => 1,
            SignerRole::Witness => 2,
        }
    }
}

/// One party to the agreement, as printed in the signatures block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// 甲, 乙 or the witness.
    pub role: SignerRole,
    /// The party's name (for the witness: the committee or the child director).
    pub name: String,
    /// Who the party is to the child (父亲, 叔叔, 儿童主任 …); blank prints nothing.
    pub relation: String,
    /// The party's 身份证号 **already masked by the caller** (`domain::mask_id_number`,
    /// e.g. `370611********0515`); blank prints nothing. A value with 15 or more digits
    /// is refused ([`crate::PdfError::IdNumberNotMasked`]): the printed copy never shows
    /// a whole ID number outside the sealed text.
    pub id_number_masked: String,
}

/// One signature: the image the signer drew on the phone and who drew it when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureImage {
    /// Whose signature (matched to the [`Party`] of the same role and name).
    pub role: SignerRole,
    /// The signer's name as recorded with the signature.
    pub signer_name: String,
    /// When it was signed, as the device recorded it: RFC 3339
    /// (`2026-05-20T10:05:00+08:00`, printed `2026年5月20日 10:05`); anything else is
    /// printed as given.
    pub signed_at: String,
    /// The signature image as stored (PNG; transparent or white background). Its blank
    /// margins are trimmed so the strokes fill the box.
    pub png: Vec<u8>,
}

/// Everything a printable copy of one signed agreement version shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrintableAgreement {
    /// The agreement text exactly as sealed (`AgreementVersion::canonical_text`), printed
    /// in full: its first paragraph (up to the first blank line) is set as the title,
    /// lines like `一、协议各方` as headings, every other line as a paragraph.
    pub canonical_text: String,
    /// The SHA-256 of `canonical_text` (`AgreementVersion::text_sha256`, 64 hex
    /// characters). It is checked against the text and printed in every page's footer.
    pub text_sha256: String,
    /// The version number (第N版).
    pub version: u32,
    /// The child the agreement is for.
    pub child_name: String,
    /// The date the agreement was signed: `YYYY-MM-DD` or RFC 3339 (printed
    /// `2026年5月20日`); anything else is printed as given.
    pub signed_on: String,
    /// The parties, in any order (printed 甲, 乙, witness).
    pub parties: Vec<Party>,
    /// The signatures, in any order. A party without one prints an empty box marked
    /// 未签署; a signature without a party prints with its own name.
    pub signatures: Vec<SignatureImage>,
}
