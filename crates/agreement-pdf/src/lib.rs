//! The printable copy of a signed care agreement (委托照护协议): the PDF the family keeps
//! on paper after the parties signed on the director's phone.
//!
//! A copy is A4, in Chinese: the title, the agreement's full canonical text exactly as
//! sealed (wrapped by the rules of Chinese typesetting, see `linebreak`), the signatures
//! block (each party's role, name, masked ID number, signature image and signing time),
//! the line that the agreement is made in three copies, and on every page a footer with
//! the text's SHA-256 and 第 N 页 共 M 页. Anyone can check a paper copy against the app:
//! the hash on the paper is the hash of the printed text, which [`render`] verifies
//! before printing.
//!
//! ```no_run
//! # fn main() -> Result<(), agreement_pdf::PdfError> {
//! use agreement_pdf::{find_system_font, render, AgreementFont, PrintableAgreement};
//! // Once, at start-up: the app's bundled font, or the system's.
//! let path = find_system_font().expect("apt-get install fonts-noto-cjk");
//! let font = AgreementFont::from_path(&path)?;
//! // Per copy, from the sealed version, its parties and its signatures.
//! let copy = render(&PrintableAgreement::default(), &font)?;
//! std::fs::write("agreement.pdf", &copy.pdf).unwrap();
//! # Ok(()) }
//! ```
//!
//! # The font
//! The crate embeds no font: the caller passes one ([`AgreementFont`]) and each PDF
//! embeds only the glyphs it uses (a subset, tens of KB). On Debian that is
//! `fonts-noto-cjk` (Noto Sans CJK, SIL Open Font License 1.1), whose
//! `NotoSansCJK-Regular.ttc` holds five faces; the SC face is picked by name.
//! [`find_system_font`] looks in the usual Debian, Android, Fedora and Arch paths.
//!
//! The phone app ships the font as a bundled resource (Tauri `bundle.resources`): the
//! Simplified Chinese face alone (Noto Sans CJK SC / Noto Sans SC, OFL, 8–16 MB as
//! `.otf` or `.ttf`), resolved in the resource directory and loaded once at start-up
//! with [`AgreementFont::from_path`]. Where the bundled file is missing it falls back to
//! [`find_system_font`] (Android keeps `/system/fonts/NotoSansCJK-Regular.ttc`). A font
//! that cannot print Chinese is refused
//! ([`PdfError::FontNotChinese`]) rather than printing boxes.
//!
//! # Privacy
//! ID numbers outside the sealed text are printed only as the caller passes them, and
//! the caller passes them **masked** ([`Party::id_number_masked`]); a value with 15 or
//! more digits is refused. The sealed text itself is printed exactly as signed.
//!
//! Never panics: every input, however long, empty, malformed or odd, gives a copy or a
//! [`PdfError`] (property-tested).

#![warn(missing_docs)]

mod error;
mod font;
mod input;
mod linebreak;
mod render;
mod signature;

pub use error::PdfError;
pub use font::{find_system_font, AgreementFont, FONT_ENV};
pub use input::{Party, PrintableAgreement, SignatureImage, SignerRole};
pub use render::{render, RenderedAgreement};

/// The longest agreement text a copy prints, in characters (a real one has about
/// 2,500; this is some 60 pages).
pub const MAX_TEXT_CHARS: usize = 100_000;

/// The longest short field (a name, a relation, a date, an ID number, the hash), in
/// characters.
pub const MAX_FIELD_CHARS: usize = 200;

/// At most this many parties, and at most this many signatures.
pub const MAX_SIGNERS: usize = 12;

/// The largest signature image accepted, in pixels on either side.
pub const MAX_SIGNATURE_SIDE: u32 = 4096;

/// The largest signature image accepted, in bytes of PNG.
pub const MAX_SIGNATURE_BYTES: usize = 8 * 1024 * 1024;
