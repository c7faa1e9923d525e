//! Whatever the caller passes — odd Unicode, control characters, huge or empty fields,
//! random bytes as signature images or as a font — `render` answers with a PDF or a
//! `PdfError`, never a panic.

mod support;

use std::sync::OnceLock;

use agreement_pdf::{
    render, AgreementFont, Party, PdfError, PrintableAgreement, SignatureImage, SignerRole,
};
use domain::text_sha256;
use proptest::prelude::*;
use support::{font, signature_png};

fn shared_font() -> &'static AgreementFont {
    static FONT: OnceLock<AgreementFont> = OnceLock::new();
    FONT.get_or_init(font)
}

/// Any string, weighted towards what breaks layouts: Chinese with its punctuation,
/// long unbroken Latin runs, whitespace of every kind, line breaks, control and
/// invisible characters, right-to-left text, emoji, unassigned code points.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[甲乙方协议，。、；：（）「」《》“”一二三、 \n]{0,300}",
        2 => "[a-zA-Z0-9*:.\\-]{0,400}",
        2 => any::<String>(),
        1 => "[\u{0}-\u{1f}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{fe0f}\u{feff}\t\r\n ]{0,50}",
        1 => "[\u{590}-\u{6ff}\u{1f300}-\u{1f64f}\u{10fff0}-\u{10fffd}\u{e000}-\u{e0ff}]{0,80}",
        1 => "(一、[甲乙]{1,5}\n){0,40}\n\n[协议]{0,2000}",
    ]
}

/// A name or a relation.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[王德福刘芳李 ·（）叔母]{0,12}",
        4 => any::<String>(),
        1 => "[x]{190,210}",
    ]
}

/// A masked ID number, mostly.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "3706[*]{10}[0-9]{3}[0-9X]",
        4 => "[0-9*X ]{0,14}",
        1 => "[0-9]{15,18}",
        1 => any::<String>(),
    ]
}

/// A date or signing time, mostly as the device writes them.
fn when() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "20[0-9]{2}-[01][0-9]-[0-3][0-9](T[0-2][0-9]:[0-6][0-9]:00\\+08:00)?",
        2 => any::<String>(),
        1 => "[x]{190,210}",
    ]
}

fn role() -> impl Strategy<Value = SignerRole> {
    prop_oneof![
        Just(SignerRole::Principal),
        Just(SignerRole::Caregiver),
        Just(SignerRole::Witness)
    ]
}

/// A signature image: a real PNG of any size (up to a bit over the limit), random
/// bytes, a PNG with random bytes spliced in, or a truncated PNG.
fn png() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => (1u32..700, 1u32..300, any::<u32>()).prop_map(|(w, h, s)| signature_png(s, w, h)),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => (any::<u32>(), any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(
            |(s, at, junk)| {
                let mut p = signature_png(s, 80, 40);
                let at = at % p.len();
                let end = (at + junk.len()).min(p.len());
                p[at..end].copy_from_slice(&junk[..end - at]);
                p
            }
        ),
        1 => (any::<u32>(), any::<usize>()).prop_map(|(s, cut)| {
            let p = signature_png(s, 80, 40);
            p[..cut % p.len()].to_vec()
        }),
    ]
}

fn agreement() -> impl Strategy<Value = (PrintableAgreement, bool)> {
    (
        text(),
        any::<u32>(),
        field(),
        when(),
        proptest::collection::vec((role(), field(), field(), id()), 0..5),
        proptest::collection::vec((role(), field(), when(), png()), 0..5),
        proptest::bool::weighted(0.9),
    )
        .prop_map(|(text, version, child, date, parties, sigs, honest)| {
            let hash = if honest {
                text_sha256(&text)
            } else {
                "0".repeat(64)
            };
            (
                PrintableAgreement {
                    canonical_text: text,
                    text_sha256: hash,
                    version,
                    child_name: child,
                    signed_on: date,
                    parties: parties
                        .into_iter()
                        .map(|(role, name, relation, id)| Party {
                            role,
                            name,
                            relation,
                            id_number_masked: id,
                        })
                        .collect(),
                    signatures: sigs
                        .into_iter()
                        .map(|(role, signer_name, signed_at, png)| SignatureImage {
                            role,
                            signer_name,
                            signed_at,
                            png,
                        })
                        .collect(),
                },
                honest,
            )
        })
}

fn check_error(e: &PdfError) {
    assert!(!e.code().is_empty());
    assert!(!e.zh().is_empty());
    assert!(!e.to_string().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_agreement_gives_a_pdf_or_an_error((input, honest) in agreement()) {
        match render(&input, shared_font()) {
            Ok(copy) => {
                prop_assert!(honest, "a wrong hash must be refused");
                prop_assert!(copy.pdf.starts_with(b"%PDF-"));
                prop_assert!(copy.pages >= 1);
                prop_assert!(copy.missing_glyphs.len() <= 64);
            }
            Err(e) => {
                check_error(&e);
                if !honest && !input.canonical_text.trim().is_empty() {
                    // Only the checks before the hash's may refuse it first.
                    prop_assert!(matches!(e.code(),
                        "text_hash_mismatch" | "text_too_long" | "field_too_long"
                        | "too_many_signers" | "id_number_not_masked"), "{}", e.code());
                }
            }
        }
    }

    #[test]
    fn any_bytes_as_a_font_give_a_font_or_an_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        index in 0u32..4,
    ) {
        if let Err(e) = AgreementFont::with_index(bytes.clone(), index) {
            check_error(&e);
        }
        if let Err(e) = AgreementFont::new(bytes) {
            check_error(&e);
        }
    }
}

/// The real font with bytes changed in its tables: loading and rendering either works or
/// is refused. (Few cases: each copies the 19 MB font.)
#[test]
fn a_damaged_font_file_is_refused_or_still_prints() {
    let path = agreement_pdf::find_system_font().unwrap();
    let original = std::fs::read(path).unwrap();
    let input = support::agreement();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..12 {
        let mut bytes = original.clone();
        for _ in 0..64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Damage the start of the file, where the table directories and the
            // headers are, more than the glyph data.
            let limit = if seed.is_multiple_of(2) {
                4096
            } else {
                bytes.len()
            };
            let at = (seed >> 8) as usize % limit;
            bytes[at] = (seed >> 40) as u8;
        }
        match AgreementFont::new(bytes) {
            Ok(font) => {
                if let Err(e) = render(&input, &font) {
                    check_error(&e);
                }
            }
            Err(e) => check_error(&e),
        }
    }
}

/// The longest text allowed prints (about 60 pages), within the test's time.
#[test]
fn the_longest_text_allowed_prints() {
    let line = "（二）保护儿童安全：做好防溺水、交通安全和用火、用电、用气安全的教育和看护，不让儿童独自或结伴到河流、水塘、水库等危险水域；\n";
    let n = agreement_pdf::MAX_TEXT_CHARS / line.chars().count();
    let text = line.repeat(n);
    let input = PrintableAgreement {
        text_sha256: text_sha256(&text),
        canonical_text: text,
        ..support::agreement()
    };
    let copy = render(&input, shared_font()).unwrap();
    assert!(copy.pages > 40, "{} pages", copy.pages);
}
