//! A real signed agreement printed and read back the way a person or a checker would:
//! `pdftotext` for the words (every clause, the names, the hash on every page),
//! `pdffonts` for the font subset, `pdftoppm` for the pixels (the signatures are there).
//! Poppler is Debian's `poppler-utils` (scripts/install-deps.sh --test).

mod support;

use std::path::Path;
use std::process::Command;

use agreement_pdf::{render, AgreementFont, PrintableAgreement, RenderedAgreement, SignerRole};
use domain::{text_sha256, EmergencyContact};
use support::{agreement, font, sealed, signature_png, terms, today};

/// Runs a poppler tool; a machine without it fails with what to install.
fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} not runnable ({e}): run scripts/install-deps.sh --test (poppler-utils)")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whitespace removed: pdftotext breaks lines where the PDF does and may add spaces in
/// justified lines; the characters and their order are what must match.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

struct Printed {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    copy: RenderedAgreement,
}

fn print(input: &PrintableAgreement, font: &AgreementFont) -> Printed {
    let copy = render(input, font).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agreement.pdf");
    std::fs::write(&path, &copy.pdf).unwrap();
    Printed {
        _dir: dir,
        path,
        copy,
    }
}

impl Printed {
    fn p(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The text between the running header and the footer, all pages (the body lies
    /// between y = 62 and 770 pt; the header is above 50, the footer below 780).
    fn body_text(&self) -> String {
        poppler(
            "pdftotext",
            &[
                "-x",
                "0",
                "-y",
                "52",
                "-W",
                "596",
                "-H",
                "724",
                self.p(),
                "-",
            ],
        )
    }

    /// The footer of page `page` (1-based).
    fn footer(&self, page: usize) -> String {
        let n = page.to_string();
        poppler(
            "pdftotext",
            &[
                "-f",
                &n,
                "-l",
                &n,
                "-x",
                "0",
                "-y",
                "778",
                "-W",
                "596",
                "-H",
                "64",
                self.p(),
                "-",
            ],
        )
    }

    fn page_count(&self) -> usize {
        let info = poppler("pdfinfo", &[self.p()]);
        info.lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap()
    }

    fn assert_prints_text_and_hash(&self, input: &PrintableAgreement) {
        let body = squeeze(&self.body_text());
        for line in input.canonical_text.lines() {
            let line = squeeze(line);
            assert!(body.contains(&line), "clause missing from the PDF: {line}");
        }
        // The whole text in order with nothing inserted (no header, footer or card
        // inside a clause): the title block, then (after the copy's details line) the
        // rest.
        let (title, rest) = input
            .canonical_text
            .split_once("\n\n")
            .unwrap_or(("", &input.canonical_text));
        for part in [title, rest] {
            let part = squeeze(part);
            if !body.contains(&part) {
                // Report the first character where the text stops matching.
                let chars: Vec<char> = part.chars().collect();
                let ok = (1..=chars.len())
                    .take_while(|n| body.contains(&chars[..*n].iter().collect::<String>()))
                    .last()
                    .unwrap_or(0);
                let at: String = chars[ok..].iter().take(20).collect();
                panic!("the text is not printed whole and in order: it breaks at {at}");
            }
        }
        let n = self.page_count();
        assert_eq!(n, self.copy.pages);
        for page in 1..=n {
            let footer = squeeze(&self.footer(page));
            assert!(
                footer.contains(&format!("SHA-256：{}", input.text_sha256)),
                "page {page} footer lacks the full hash: {footer}"
            );
            assert!(
                footer.contains(&format!("第{page}页共{n}页")),
                "page {page} footer: {footer}"
            );
        }
    }
}

#[test]
fn a_signed_agreement_prints_every_clause_the_parties_and_the_hash_on_every_page() {
    let input = agreement();
    let printed = print(&input, &font());
    printed.assert_prints_text_and_hash(&input);
    assert!(
        printed.copy.pages >= 2,
        "the template text takes more than a page"
    );
    assert!(printed.copy.missing_glyphs.is_empty());

    let all = squeeze(&poppler("pdftotext", &[printed.p(), "-"]));
    for needed in [
        "农村留守儿童委托照护协议",
        "儿童：王小明",
        "（第1版）",
        "签订日期：2026年5月20日",
        "签署各方",
        "甲方（委托人）",
        "王建国（父亲）",
        "乙方（受托照护人）",
        "王德福（叔叔）",
        "见证方",
        "刘芳（儿童主任，某村村民委员会）",
        "3706**********0515",
        "3706**********0012",
        "2026年5月20日10:05",
        "2026年5月20日10:07",
        "2026年5月20日10:09",
        "本协议一式三份，甲方、乙方、村（居）民委员会各执一份。",
    ] {
        assert!(all.contains(needed), "missing {needed}");
    }
    assert!(!all.contains("未签署"), "every party signed");
}

#[test]
fn the_signatures_end_on_the_page_of_the_lines_they_sign_under() {
    let input = agreement();
    let printed = print(&input, &font());
    let last = printed.copy.pages.to_string();
    let page = squeeze(&poppler(
        "pdftotext",
        &["-f", &last, "-l", &last, printed.p(), "-"],
    ));
    assert!(page.contains("签署各方"));
    assert!(page.contains("见证方（签字或盖章）："), "{page}");
}

#[test]
fn the_font_is_embedded_as_a_subset() {
    let font = font();
    let printed = print(&agreement(), &font);
    let size = printed.copy.pdf.len();
    assert!(size < 1_000_000, "the copy is {size} bytes");
    assert!(
        size * 20 < font.file_len(),
        "{size} bytes for a {} byte font",
        font.file_len()
    );
    let fonts = poppler("pdffonts", &[printed.p()]);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 1, "one font: {fonts}");
    let cols: Vec<&str> = rows[0].split_whitespace().collect();
    // name+subset tag, type…, emb, sub, uni, object id, generation.
    assert!(cols[0].contains('+'), "a subset's name has a tag: {fonts}");
    assert_eq!(&cols[cols.len() - 5..cols.len() - 2], ["yes", "yes", "yes"]);
}

#[test]
fn the_simplified_chinese_face_of_noto_sans_cjk_is_picked() {
    let path = Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc");
    let font = AgreementFont::from_path(path)
        .expect("fonts-noto-cjk is installed by scripts/install-deps.sh");
    assert_eq!(font.family_name(), "Noto Sans CJK SC");
    // The collection's first face is the Japanese one: loadable by index, never picked.
    let jp = AgreementFont::with_index(std::fs::read(path).unwrap(), 0).unwrap();
    assert_eq!(jp.family_name(), "Noto Sans CJK JP");
    assert_ne!(font.index(), 0);
}

#[test]
fn the_pages_rasterise_and_show_the_signatures() {
    let input = agreement();
    let printed = print(&input, &font());
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    let out = Command::new("pdftoppm")
        .args(["-png", "-r", "50", printed.p(), prefix.to_str().unwrap()])
        .output()
        .expect("pdftoppm (poppler-utils)");
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "poppler complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The last page holds the signatures: the pen's dark blue is there.
    let last = format!("page-{}.png", printed.copy.pages);
    let img = image::open(dir.path().join(last)).unwrap().to_rgb8();
    let ink = img
        .pixels()
        .filter(|p| {
            i32::from(p[2]) > i32::from(p[0]) + 30 && i32::from(p[2]) > i32::from(p[1]) + 20
        })
        .count();
    assert!(ink > 100, "{ink} blue pixels on the signature page");
}

#[test]
fn a_long_agreement_runs_over_pages_and_keeps_every_clause() {
    let mut t = terms();
    t.emergency_contacts = (0..40)
        .map(|i| EmergencyContact {
            name: format!("联系人{i}"),
            relationship: "亲属".into(),
            phone: format!("1391234{:04}", i),
        })
        .collect();
    t.child.special_needs =
        "对花生过敏，需随身携带肾上腺素笔；每周二、周四下午需到镇卫生院复查视力。".repeat(12);
    let v = domain::AgreementVersion::seal(
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        2,
        &t,
        "2026-05-20T10:00:00+08:00",
        today(),
    )
    .unwrap();
    let input = PrintableAgreement {
        canonical_text: v.canonical_text,
        text_sha256: v.text_sha256,
        version: 2,
        ..agreement()
    };
    let printed = print(&input, &font());
    assert!(printed.copy.pages >= 4, "{} pages", printed.copy.pages);
    printed.assert_prints_text_and_hash(&input);
    // From page 2 on, a running header names the agreement and the child.
    let second = squeeze(&poppler(
        "pdftotext",
        &[
            "-f",
            "2",
            "-l",
            "2",
            "-y",
            "0",
            "-H",
            "50",
            "-W",
            "596",
            printed.p(),
            "-",
        ],
    ));
    assert!(second.contains("（第2版）儿童：王小明"), "{second}");
}

#[test]
fn a_party_who_has_not_signed_gets_an_empty_box() {
    let mut input = agreement();
    input.signatures.retain(|s| s.role != SignerRole::Witness);
    let printed = print(&input, &font());
    let all = squeeze(&poppler("pdftotext", &[printed.p(), "-"]));
    assert_eq!(all.matches("未签署").count(), 1);
}

#[test]
fn a_character_the_font_lacks_is_reported_and_kept_in_the_text() {
    let text = "委托照护协议\n\n甲方：王\u{10FFFD}明。\n";
    let input = PrintableAgreement {
        canonical_text: text.into(),
        text_sha256: text_sha256(text),
        ..agreement()
    };
    let printed = print(&input, &font());
    assert_eq!(printed.copy.missing_glyphs, ['\u{10FFFD}']);
    let all = poppler("pdftotext", &[printed.p(), "-"]);
    assert!(all.contains("王\u{10FFFD}明"), "{all}");
}

#[test]
fn the_same_agreement_gives_the_same_bytes() {
    let font = font();
    let input = agreement();
    assert_eq!(
        render(&input, &font).unwrap().pdf,
        render(&input, &font).unwrap().pdf
    );
}

#[test]
fn text_without_a_title_block_gets_the_copy_s_own_title() {
    // A first paragraph too long for a title: no title block. The copy prints its own
    // title, the version in the details line, then the whole text as body.
    let text = "第一段协议文本，它比任何标题都长得多，所以不是标题，而是协议正文的第一段，应当作为正文排版。\n第二段。";
    let input = PrintableAgreement {
        canonical_text: text.into(),
        text_sha256: text_sha256(text),
        ..agreement()
    };
    let printed = print(&input, &font());
    let body = squeeze(&printed.body_text());
    assert!(
        body.starts_with("委托照护协议儿童：王小明协议版本：第1版"),
        "{body}"
    );
    assert!(body.contains(&squeeze(text)), "{body}");
}

fn code(input: &PrintableAgreement) -> &'static str {
    render(input, &font()).unwrap_err().code()
}

#[test]
fn a_text_that_is_not_the_sealed_text_is_refused() {
    let mut input = agreement();
    input.canonical_text = input.canonical_text.replace("叔叔", "舅舅");
    let e = render(&input, &font()).unwrap_err();
    assert_eq!(e.code(), "text_hash_mismatch");
    assert!(e.zh().contains("指纹"));
    // The hash in capitals is the same hash.
    let mut input = agreement();
    input.text_sha256 = input.text_sha256.to_uppercase();
    let printed = print(&input, &font());
    assert!(squeeze(&printed.footer(1)).contains(&sealed().text_sha256));
}

#[test]
fn a_whole_id_number_outside_the_text_is_refused() {
    let mut input = agreement();
    input.parties[1].id_number_masked = terms().caregiver.id_number;
    let e = render(&input, &font()).unwrap_err();
    assert_eq!(e.code(), "id_number_not_masked");
    assert!(e.to_string().contains("parties[1].id_number_masked"));
    assert!(
        !e.to_string().contains("370602"),
        "no ID number in the message"
    );
}

#[test]
fn a_corrupt_signature_is_refused_naming_the_signer() {
    let mut input = agreement();
    input.signatures[0].png.truncate(60);
    let e = render(&input, &font()).unwrap_err();
    assert_eq!(e.code(), "signature_unreadable");
    assert_eq!(
        e.zh(),
        "甲方（委托人）王建国的签名图片已损坏，无法打印。请重新同步，或重新签署。"
    );
    assert!(!e.to_string().contains("王建国"), "no name in the log text");
    input.signatures[0].png = b"GIF89a".to_vec();
    assert_eq!(code(&input), "signature_unreadable");
}

#[test]
fn empty_or_oversized_inputs_are_refused() {
    let mut input = agreement();
    input.canonical_text = " \n\u{3000}\n".into();
    input.text_sha256 = text_sha256(&input.canonical_text);
    assert_eq!(code(&input), "empty_text");

    let mut input = agreement();
    input.canonical_text = "协".repeat(agreement_pdf::MAX_TEXT_CHARS + 1);
    assert_eq!(code(&input), "text_too_long");

    let mut input = agreement();
    input.child_name = "明".repeat(agreement_pdf::MAX_FIELD_CHARS + 1);
    let e = render(&input, &font()).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().starts_with("child_name")),
        ("field_too_long", true)
    );

    let mut input = agreement();
    input.signatures = vec![input.signatures[0].clone(); agreement_pdf::MAX_SIGNERS + 1];
    assert_eq!(code(&input), "too_many_signers");

    let mut input = agreement();
    input.signatures[2].png = signature_png(1, 5000, 10);
    assert_eq!(code(&input), "signature_too_large");
}

#[test]
fn a_font_that_cannot_print_chinese_is_refused() {
    assert_eq!(
        AgreementFont::new(b"not a font".to_vec())
            .unwrap_err()
            .code(),
        "font_unreadable"
    );
    let e = AgreementFont::from_path(Path::new("/nonexistent/font.ttc")).unwrap_err();
    assert_eq!(e.code(), "font_missing");
    assert!(e.zh().contains("找不到"));
    // DejaVu Sans: a real font without Chinese (fonts-dejavu-core).
    let dejavu = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
        .expect("fonts-dejavu-core is installed by scripts/install-deps.sh --test");
    assert_eq!(
        AgreementFont::new(dejavu.clone()).unwrap_err().code(),
        "font_not_chinese"
    );
    assert_eq!(
        AgreementFont::with_index(dejavu, 0).unwrap_err().code(),
        "font_not_chinese"
    );
    assert_eq!(
        AgreementFont::with_index(std::fs::read(support_font_path()).unwrap(), 99)
            .unwrap_err()
            .code(),
        "font_unreadable"
    );
}

fn support_font_path() -> std::path::PathBuf {
    agreement_pdf::find_system_font().unwrap()
}

#[test]
fn a_loaded_font_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<AgreementFont>();
    let font = font();
    let input = agreement();
    std::thread::scope(|s| {
        let a = s.spawn(|| render(&input, &font).unwrap().pdf);
        let b = s.spawn(|| render(&input, &font).unwrap().pdf);
        assert_eq!(a.join().unwrap(), b.join().unwrap());
    });
}
