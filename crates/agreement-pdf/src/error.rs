//! What can stop a printable copy from being made. Every error has a stable
//! [`code`](PdfError::code) for the app to branch on, a Chinese sentence for the director
//! ([`zh`](PdfError::zh)) and an English `Display` for logs. `Display` carries no
//! personal data (no text, no name, no ID number); `zh` names the signer, for the director.

use crate::input::SignerRole;

/// Why a printable copy could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// The font file could not be read from disk.
    #[error("the font file {path} could not be read: {reason}")]
    FontMissing {
        /// The path tried.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The bytes given as the font are not an OpenType/TrueType font or collection, or the
    /// face index does not exist.
    #[error("the font could not be read: {0}")]
    FontUnreadable(String),
    /// The font has no glyphs for Chinese text, so the copy would print as empty boxes.
    #[error("the font has no Chinese glyphs (it cannot print 协议)")]
    FontNotChinese,
    /// The agreement text is empty or only whitespace.
    #[error("the agreement text is empty")]
    EmptyText,
    /// The agreement text is longer than a printable copy allows.
    #[error(
        "the agreement text has {chars} characters, more than the {max} a printable copy allows"
    )]
    TextTooLong {
        /// Characters in the text.
        chars: usize,
        /// The limit ([`crate::MAX_TEXT_CHARS`]).
        max: usize,
    },
    /// A short field (a name, a date, an ID number) is longer than any real one.
    #[error("{field} has {chars} characters, more than the {max} allowed")]
    FieldTooLong {
        /// Which field, e.g. `parties[0].name`.
        field: String,
        /// Characters in it.
        chars: usize,
        /// The limit ([`crate::MAX_FIELD_CHARS`]).
        max: usize,
    },
    /// The SHA-256 given is not the SHA-256 of the text given: this is not the sealed
    /// text, or not its hash. Nothing is printed that could be taken for a signed copy.
    #[error("the SHA-256 of the text is {computed}, not {given}: the text is not the sealed text")]
    HashMismatch {
        /// The hash the caller passed.
        given: String,
        /// The hash of the text passed.
        computed: String,
    },
    /// A party's ID number has too many digits to be masked.
    #[error("{field} looks like a full ID number; pass it masked (domain::mask_id_number)")]
    IdNumberNotMasked {
        /// Which field, e.g. `parties[1].id_number_masked`.
        field: String,
    },
    /// More parties or signatures than any agreement has.
    #[error("{count} {what}, more than the {max} a printable copy allows")]
    TooManySigners {
        /// `parties` or `signatures`.
        what: &'static str,
        /// How many were given.
        count: usize,
        /// The limit ([`crate::MAX_SIGNERS`]).
        max: usize,
    },
    /// A signature image is not a readable PNG.
    #[error("the signature image of the {} is not a readable PNG: {reason}", role.code())]
    SignatureUnreadable {
        /// Whose signature.
        role: SignerRole,
        /// The signer's name as given.
        name: String,
        /// The decoder's reason.
        reason: String,
    },
    /// A signature image is larger than a signature pad makes.
    #[error(
        "the signature image of the {} is {width}×{height} pixels or {bytes} bytes, more than {max_side}×{max_side} pixels or {max_bytes} bytes",
        role.code()
    )]
    SignatureTooLarge {
        /// Whose signature.
        role: SignerRole,
        /// The signer's name as given.
        name: String,
        /// Width in pixels (0 when the header could not be read).
        width: u32,
        /// Height in pixels (0 when the header could not be read).
        height: u32,
        /// Size of the PNG file.
        bytes: usize,
        /// The limit on either side ([`crate::MAX_SIGNATURE_SIDE`]).
        max_side: u32,
        /// The limit on the file ([`crate::MAX_SIGNATURE_BYTES`]).
        max_bytes: usize,
    },
    /// The PDF writer failed (a font it could not embed, a limit of the PDF format).
    #[error("writing the PDF failed: {0}")]
    Write(String),
}

impl PdfError {
    /// A stable, machine-readable code (snake_case), for the app to branch on and for
    /// logs. Never changes meaning once released.
    pub fn code(&self) -> &'static str {
        match self {
            PdfError::FontMissing { .. } => "font_missing",
            PdfError::FontUnreadable(_) => "font_unreadable",
            PdfError::FontNotChinese => "font_not_chinese",
            PdfError::EmptyText => "empty_text",
            PdfError::TextTooLong { .. } => "text_too_long",
            PdfError::FieldTooLong { .. } => "field_too_long",
            PdfError::HashMismatch { .. } => "text_hash_mismatch",
            PdfError::IdNumberNotMasked { .. } => "id_number_not_masked",
            PdfError::TooManySigners { .. } => "too_many_signers",
            PdfError::SignatureUnreadable { .. } => "signature_unreadable",
            PdfError::SignatureTooLarge { .. } => "signature_too_large",
            PdfError::Write(_) => "pdf_write_failed",
        }
    }

    /// A sentence in Chinese for the child director: what went wrong and what to do.
    pub fn zh(&self) -> String {
        match self {
            PdfError::FontMissing { .. } => {
                "找不到打印用的中文字体文件，无法生成协议打印件。请重新安装童护应用。".into()
            }
            PdfError::FontUnreadable(_) => {
                "打印用的中文字体文件已损坏，无法生成协议打印件。请重新安装童护应用。".into()
            }
            PdfError::FontNotChinese => {
                "打印用的字体不含中文字符，无法生成协议打印件。请重新安装童护应用。".into()
            }
            PdfError::EmptyText => "协议全文是空的，无法生成打印件。".into(),
            PdfError::TextTooLong { chars, max } => {
                format!("协议全文有{chars}个字，超过打印件允许的{max}个字，无法生成打印件。")
            }
            PdfError::FieldTooLong { chars, max, .. } => {
                format!("有一项签署信息（姓名、日期或证件号）有{chars}个字，超过{max}个字，无法生成打印件。")
            }
            PdfError::HashMismatch { .. } => {
                "协议全文与其指纹（SHA-256）不符，协议内容可能被改动过，不能生成打印件。".into()
            }
            PdfError::IdNumberNotMasked { .. } => {
                "签署信息中的身份证号没有遮挡，打印件不能显示完整的身份证号。".into()
            }
            PdfError::TooManySigners { count, max, .. } => {
                format!("签署人有{count}个，超过打印件允许的{max}个，无法生成打印件。")
            }
            PdfError::SignatureUnreadable { role, name, .. } => format!(
                "{}{}的签名图片已损坏，无法打印。请重新同步，或重新签署。",
                role.label_zh(),
                name.trim()
            ),
            PdfError::SignatureTooLarge { role, name, .. } => format!(
                "{}{}的签名图片过大，无法打印。请重新签署。",
                role.label_zh(),
                name.trim()
            ),
            PdfError::Write(_) => "生成协议打印件时出错，请重试。".into(),
        }
    }
}
