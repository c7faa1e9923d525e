//! Making a copy: check the input, lay the copy out on A4 pages (title, text,
//! signatures, closing lines, then every page's header and footer once the page count is
//! known), and draw it with krilla, which embeds the subset of the font the copy uses.

use std::ops::Range;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Size, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::text::KrillaGlyph;
use krilla::Document;
use sha2::{Digest, Sha256};
use skrifa::GlyphId;

use crate::font::Metrics;
use crate::input::{Party, PrintableAgreement, SignatureImage, SignerRole};
use crate::linebreak::{break_lines, clusters, compress_punctuation, Cluster, Line};
use crate::signature::{self, Strokes};
use crate::{AgreementFont, PdfError, MAX_FIELD_CHARS, MAX_SIGNERS, MAX_TEXT_CHARS};

// A4 in points, and the page's frame. The body lies between BODY_TOP and BODY_BOTTOM on
// every page; the running header (pages 2 on) is above it, the footer below.
const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 62.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
const BODY_TOP: f32 = 62.0;
const BODY_BOTTOM: f32 = 770.0;
const HEADER_BASELINE: f32 = 40.0;
const HEADER_RULE: f32 = 47.0;
const FOOTER_RULE: f32 = 782.0;
const FOOTER_HASH_BASELINE: f32 = 797.0;
const FOOTER_PAGE_BASELINE: f32 = 811.0;

// Type sizes in points: the agreement's text at 12, details at 11, never smaller than
// 9 (header and footer).
const TITLE: f32 = 18.0;
const BODY: f32 = 12.0;
const DETAIL: f32 = 11.0;
const FOOT: f32 = 9.0;
const LEADING: f32 = 1.6;
/// Where the baseline sits in the em box (the ideographic em box of Noto Sans CJK
/// reaches 0.88 em above the baseline).
const ASCENT: f32 = 0.88;

// The signatures block.
const CARD_GAP: f32 = 12.0;
const CARD_PAD: f32 = 8.0;
const SIGNATURE_BOX_H: f32 = 64.0;

/// The title of a copy whose text has no title block of its own.
const DEFAULT_TITLE: &str = "委托照护协议";

/// What the closing lines say: the three copies, and how to check a paper copy.
const THREE_COPIES: &str = "本协议一式三份，甲方、乙方、村（居）民委员会各执一份。";
const HOW_TO_CHECK: &str = "核对方法：每页页脚印有协议全文的 SHA-256 指纹。与童护应用中这份协议的指纹一致，即说明本打印件的协议内容与签署时一致。";

/// A printable copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedAgreement {
    /// The PDF file.
    pub pdf: Vec<u8>,
    /// How many A4 pages it has.
    pub pages: usize,
    /// Characters the font has no glyph for, in the order first met (at most 64). They
    /// print as a white square (□) but stay in the PDF's text layer; the app should tell
    /// the director (a rare character in a name, an emoji).
    pub missing_glyphs: Vec<char>,
}

/// Makes the printable copy of one signed agreement version.
///
/// Checks first: the text is not empty nor longer than [`MAX_TEXT_CHARS`], the
/// SHA-256 given is the text's (so the hash printed on every page is the hash of the
/// text printed), short fields fit [`MAX_FIELD_CHARS`], ID numbers are masked, at most
/// [`MAX_SIGNERS`] parties and signatures, every signature image is a readable PNG
/// within limits. Then it lays the copy out and writes the PDF. The same input and font
/// give the same bytes.
pub fn render(
    input: &PrintableAgreement,
    font: &AgreementFont,
) -> Result<RenderedAgreement, PdfError> {
    let hash = check(input)?;
    let strokes = input
        .signatures
        .iter()
        .map(signature::prepare)
        .collect::<Result<Vec<_>, _>>()?;

    let mut metrics = font.metrics()?;
    let mut c = Composer::new(&mut metrics);
    let rows = c.card_rows(input, &strokes);
    let title = c.agreement_text(input, Composer::signatures_start_h(&rows));
    c.signatures(rows);
    c.closing();
    c.headers_and_footers(&title, input, &hash);
    let pages = std::mem::take(&mut c.pages);
    let missing: Vec<char> = metrics.missing().iter().copied().take(64).collect();

    let images: Vec<krilla::image::Image> = strokes
        .into_iter()
        .map(|s| {
            let (w, h) = s.image.dimensions();
            krilla::image::Image::from_rgba8(s.image.into_raw(), w, h)
        })
        .collect();
    let page_count = pages.len();
    let doc_title = format!("{title}（第{}版）", input.version);
    // krilla and its font subsetter are another project's code fed a font file from
    // disk: should a damaged font ever make them panic, the director gets an error,
    // not a crashed app. Nothing drawn so far is reused after a failure.
    let pdf = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        draw(&pages, &images, font, &doc_title)
    }))
    .unwrap_or_else(|_| Err(PdfError::Write("the PDF writer failed on this font".into())))?;
    Ok(RenderedAgreement {
        pdf,
        pages: page_count,
        missing_glyphs: missing,
    })
}

/// Checks the input; returns the text's SHA-256 (lowercase hex) to print.
fn check(input: &PrintableAgreement) -> Result<String, PdfError> {
    let chars = input.canonical_text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(PdfError::TextTooLong {
            chars,
            max: MAX_TEXT_CHARS,
        });
    }
    if input.canonical_text.trim().is_empty() {
        return Err(PdfError::EmptyText);
    }
    for (what, count) in [
        ("parties", input.parties.len()),
        ("signatures", input.signatures.len()),
    ] {
        if count > MAX_SIGNERS {
            return Err(PdfError::TooManySigners {
                what,
                count,
                max: MAX_SIGNERS,
            });
        }
    }
    let mut fields: Vec<(String, &str)> = vec![
        ("text_sha256".into(), &input.text_sha256),
        ("child_name".into(), &input.child_name),
        ("signed_on".into(), &input.signed_on),
    ];
    for (i, p) in input.parties.iter().enumerate() {
        fields.push((format!("parties[{i}].name"), &p.name));
        fields.push((format!("parties[{i}].relation"), &p.relation));
        fields.push((
            format!("parties[{i}].id_number_masked"),
            &p.id_number_masked,
        ));
    }
    for (i, s) in input.signatures.iter().enumerate() {
        fields.push((format!("signatures[{i}].signer_name"), &s.signer_name));
        fields.push((format!("signatures[{i}].signed_at"), &s.signed_at));
    }
    for (field, value) in fields {
        let chars = value.chars().count();
        if chars > MAX_FIELD_CHARS {
            return Err(PdfError::FieldTooLong {
                field,
                chars,
                max: MAX_FIELD_CHARS,
            });
        }
    }
    for (i, p) in input.parties.iter().enumerate() {
        // A masked number keeps at most 4 + 4 digits; 15 is the old ID's full length.
        if p.id_number_masked
            .chars()
            .filter(char::is_ascii_digit)
            .count()
            >= 15
        {
            return Err(PdfError::IdNumberNotMasked {
                field: format!("parties[{i}].id_number_masked"),
            });
        }
    }
    let computed: String = Sha256::digest(input.canonical_text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if input.text_sha256.trim().to_ascii_lowercase() != computed {
        return Err(PdfError::HashMismatch {
            given: input.text_sha256.clone(),
            computed,
        });
    }
    Ok(computed)
}

/// How a run of text is inked.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ink {
    Black,
    /// Black, stroked thinly as well: the one font has one weight, this is its bold.
    Bold,
    Gray,
}

/// One line of text placed on a page.
#[derive(Clone, Debug)]
struct Run {
    x: f32,
    baseline: f32,
    size: f32,
    ink: Ink,
    text: String,
    /// Each glyph: its bytes in `text`, its id, its advance in points.
    glyphs: Vec<(Range<usize>, GlyphId, f32)>,
}

#[derive(Clone, Debug)]
enum Item {
    Text(Run),
    Image {
        index: usize,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        gray: u8,
    },
    Frame {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: u8,
    },
}

impl Item {
    fn shifted(mut self, dx: f32, dy: f32) -> Item {
        match &mut self {
            Item::Text(r) => {
                r.x += dx;
                r.baseline += dy;
            }
            Item::Image { x, y, .. } | Item::Frame { x, y, .. } => {
                *x += dx;
                *y += dy;
            }
            Item::Rule { x1, x2, y, .. } => {
                *x1 += dx;
                *x2 += dx;
                *y += dy;
            }
        }
        self
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Center,
    Justify,
}

/// A paragraph's look.
#[derive(Clone, Copy)]
struct Para {
    size: f32,
    ink: Ink,
    align: Align,
    /// Indent of the first line, in em.
    indent: f32,
    leading: f32,
}

impl Para {
    fn body() -> Para {
        Para {
            size: BODY,
            ink: Ink::Black,
            align: Align::Justify,
            indent: 2.0,
            leading: LEADING,
        }
    }
    fn line_h(&self) -> f32 {
        self.size * self.leading
    }
    fn baseline_in(&self, top: f32) -> f32 {
        top + (self.line_h() - self.size) / 2.0 + ASCENT * self.size
    }
}

/// A paragraph broken into lines.
struct Laid {
    clusters: Vec<Cluster>,
    lines: Vec<Line>,
}

/// Lays out the pages, top to bottom.
struct Composer<'m, 'f> {
    m: &'m mut Metrics<'f>,
    pages: Vec<Vec<Item>>,
    y: f32,
}

impl<'m, 'f> Composer<'m, 'f> {
    fn new(m: &'m mut Metrics<'f>) -> Self {
        Composer {
            m,
            pages: vec![Vec::new()],
            y: BODY_TOP,
        }
    }

    fn push(&mut self, item: Item) {
        if let Some(page) = self.pages.last_mut() {
            page.push(item);
        }
    }

    fn at_top(&self) -> bool {
        self.y <= BODY_TOP + 0.5
    }

    /// Starts a new page unless `h` points still fit on this one (or this one is empty:
    /// something taller than a page goes where it is).
    fn ensure(&mut self, h: f32) {
        if self.y + h > BODY_BOTTOM && !self.at_top() {
            self.pages.push(Vec::new());
            self.y = BODY_TOP;
        }
    }

    fn gap(&mut self, h: f32) {
        if !self.at_top() {
            self.y = (self.y + h).min(BODY_BOTTOM);
        }
    }

    fn lay(&mut self, text: &str, size: f32, first_width: f32, width: f32) -> Laid {
        let m = &mut *self.m;
        let mut clusters = clusters(text, |c| m.width(c, size));
        compress_punctuation(&mut clusters, size);
        let lines = break_lines(&clusters, first_width, width);
        Laid { clusters, lines }
    }

    /// The run of one laid line, its baseline starting at `(x, baseline)`, stretched to `justify_to` points wide
    /// when given and the stretch is small.
    fn run(
        &mut self,
        text: &str,
        laid: &Laid,
        line: &Line,
        (x, baseline): (f32, f32),
        p: Para,
        justify_to: Option<f32>,
    ) -> Option<Run> {
        let cl = laid.clusters.get(line.start..line.end)?;
        let (first, last) = (cl.first()?, cl.last()?);
        let base = first.text.start;
        let gaps = cl.len().saturating_sub(1);
        let extra = match justify_to {
            Some(w) if gaps > 0 && w > line.width => {
                let e = (w - line.width) / gaps as f32;
                // Stretching more than a third of an em per gap reads worse than a ragged
                // line (a long word pushed down).
                if e <= p.size / 3.0 {
                    e
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        let glyphs = cl
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (gid, _) = self.m.glyph(c.ch);
                let advance = c.width + if i < gaps { extra } else { 0.0 };
                (c.text.start - base..c.text.end - base, gid, advance)
            })
            .collect();
        Some(Run {
            x,
            baseline,
            size: p.size,
            ink: p.ink,
            text: text.get(base..last.text.end)?.to_string(),
            glyphs,
        })
    }

    /// Flows a paragraph across the full text width, breaking pages between lines.
    /// `keep` more lines' height must fit below the first line (a heading stays with
    /// what follows it).
    fn paragraph(&mut self, text: &str, p: Para, keep: f32) {
        let indent = p.indent * p.size;
        let laid = self.lay(text, p.size, TEXT_W - indent, TEXT_W);
        for (i, line) in laid.lines.iter().enumerate() {
            self.ensure(p.line_h() + if i == 0 { keep } else { 0.0 });
            let lead = if i == 0 { indent } else { 0.0 };
            let avail = TEXT_W - lead;
            let x = MARGIN_X
                + lead
                + match p.align {
                    Align::Center => ((avail - line.width) / 2.0).max(0.0),
                    _ => 0.0,
                };
            let justify = (p.align == Align::Justify && !line.last).then_some(avail);
            let baseline = p.baseline_in(self.y);
            if let Some(run) = self.run(text, &laid, line, (x, baseline), p, justify) {
                self.push(Item::Text(run));
            }
            self.y += p.line_h();
        }
    }

    /// The title block, the agreement's details and its full text. The text's last
    /// block (after its last blank line: in the template, the lines the parties sign
    /// under) is kept on one page with the next `keep_last` points, so the signatures
    /// never stand on a page without the words they sign under. Returns the title.
    fn agreement_text(&mut self, input: &PrintableAgreement, keep_last: f32) -> String {
        let lines: Vec<&str> = input.canonical_text.split('\n').collect();
        // The title block: the text's first paragraph, when it is short like a title.
        let block = lines
            .iter()
            .position(|l| l.trim().is_empty())
            .unwrap_or(lines.len());
        let titled = (1..=3).contains(&block)
            && lines[..block]
                .iter()
                .all(|l| l.trim().chars().count() <= 40);
        let big = Para {
            size: TITLE,
            ink: Ink::Bold,
            align: Align::Center,
            indent: 0.0,
            leading: 1.5,
        };
        let (title, rest) = if titled {
            let mut p = big;
            for l in &lines[..block] {
                self.paragraph(l.trim(), p, 0.0);
                p = Para {
                    size: BODY,
                    ink: Ink::Black,
                    ..big
                };
            }
            (lines[0].trim().to_string(), &lines[block..])
        } else {
            // A text without a title block still gets a title on its copy (outside the
            // text, which starts below the details line).
            self.paragraph(DEFAULT_TITLE, big, 0.0);
            (DEFAULT_TITLE.to_string(), &lines[..])
        };

        // 儿童、版本、签订日期 under the title, then a rule.
        let mut facts = Vec::new();
        if !input.child_name.trim().is_empty() {
            facts.push(format!("儿童：{}", one_line(&input.child_name)));
        }
        let version = format!("第{}版", input.version);
        if !(titled && lines[..block].iter().any(|l| l.contains(&version))) {
            facts.push(format!("协议版本：{version}"));
        }
        if !input.signed_on.trim().is_empty() {
            facts.push(format!(
                "签订日期：{}",
                zh_date_time(&input.signed_on, false)
            ));
        }
        self.gap(4.0);
        let detail = Para {
            size: DETAIL,
            ink: Ink::Black,
            align: Align::Center,
            indent: 0.0,
            leading: 1.5,
        };
        self.paragraph(&facts.join("\u{3000}\u{3000}"), detail, 0.0);
        self.push(Item::Rule {
            x1: MARGIN_X,
            x2: PAGE_W - MARGIN_X,
            y: self.y + 3.0,
            gray: 120,
        });
        self.y += 12.0;

        let last_block = rest
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .and_then(|end| rest[..end].iter().rposition(|l| l.trim().is_empty()))
            .map(|blank| blank + 1);
        for (i, line) in rest.iter().enumerate() {
            let line = line.trim_end_matches('\r');
            if Some(i) == last_block {
                let block_h = self.block_height(&rest[i..]);
                if block_h + keep_last <= BODY_BOTTOM - BODY_TOP {
                    self.ensure(block_h + keep_last);
                }
            }
            if line.trim().is_empty() {
                // A blank line separates clauses; none is needed after the last.
                if rest[i..].iter().any(|l| !l.trim().is_empty()) {
                    self.gap(BODY * 0.5);
                }
                continue;
            }
            if is_heading(line) {
                let heading = Para {
                    ink: Ink::Bold,
                    indent: 0.0,
                    align: Align::Left,
                    ..Para::body()
                };
                self.paragraph(line.trim(), heading, Para::body().line_h());
            } else {
                self.paragraph(line, Para::body(), 0.0);
            }
        }
        title
    }

    /// The height of body lines as [`Self::agreement_text`] sets them (no blank lines).
    fn block_height(&mut self, lines: &[&str]) -> f32 {
        let p = Para::body();
        lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let laid = self.lay(l, p.size, TEXT_W - p.indent * p.size, TEXT_W);
                laid.lines.len() as f32 * p.line_h()
            })
            .sum()
    }

    /// The signatures block laid out, not yet placed: a card per party and per
    /// signature without a party, three to a row; each row's cards and height.
    fn card_rows(&mut self, input: &PrintableAgreement, strokes: &[Strokes]) -> CardRows {
        let cards = match_cards(&input.parties, &input.signatures);
        let cols = cards.len().clamp(1, 3);
        let cw = (TEXT_W - CARD_GAP * (cols as f32 - 1.0)) / cols as f32;
        let rows = cards
            .chunks(cols)
            .map(|row| {
                // The signature boxes of a row line up under the tallest card head.
                let box_top = row
                    .iter()
                    .map(|card| self.card(card, strokes, cw, 0.0).2)
                    .fold(0.0, f32::max);
                let laid: Vec<(Vec<Item>, f32, f32)> = row
                    .iter()
                    .map(|card| self.card(card, strokes, cw, box_top))
                    .collect();
                let h = laid.iter().map(|(_, h, _)| *h).fold(0.0, f32::max);
                (laid.into_iter().map(|(items, _, _)| items).collect(), h)
            })
            .collect();
        CardRows { cw, rows }
    }

    /// The height the signatures block needs on the page where it starts: its heading
    /// and first row.
    fn signatures_start_h(rows: &CardRows) -> f32 {
        let first = rows.rows.first().map_or(Para::body().line_h(), |(_, h)| *h);
        BODY + Para::body().line_h() + 2.0 + first
    }

    /// Places the signatures block; a row never splits across pages and the heading
    /// stays with the first row.
    fn signatures(&mut self, rows: CardRows) {
        let heading = Para {
            ink: Ink::Bold,
            indent: 0.0,
            align: Align::Left,
            ..Para::body()
        };
        self.gap(BODY);
        if rows.rows.is_empty() {
            self.paragraph("签署各方", heading, Para::body().line_h());
            self.paragraph("（没有签署记录）", Para::body(), 0.0);
            return;
        }
        for (r, (cards, h)) in rows.rows.into_iter().enumerate() {
            if r == 0 {
                self.ensure(heading.line_h() + 2.0 + h);
                self.paragraph("签署各方", heading, 0.0);
                self.y += 2.0;
            } else {
                self.ensure(h);
            }
            for (i, items) in cards.into_iter().enumerate() {
                let x = MARGIN_X + i as f32 * (rows.cw + CARD_GAP);
                let y = self.y;
                self.push(Item::Frame {
                    x,
                    y,
                    w: rows.cw,
                    h,
                    gray: 150,
                });
                for item in items {
                    self.push(item.shifted(x, y));
                }
            }
            self.y += h + CARD_GAP;
        }
    }

    /// One card's items, relative to its top left corner, its height, and where its
    /// signature box starts (at `box_top` or lower).
    fn card(
        &mut self,
        card: &Card<'_>,
        strokes: &[Strokes],
        cw: f32,
        box_top: f32,
    ) -> (Vec<Item>, f32, f32) {
        let iw = cw - 2.0 * CARD_PAD;
        let mut items = Vec::new();
        let mut y = CARD_PAD;
        let small = Para {
            size: DETAIL,
            ink: Ink::Black,
            align: Align::Left,
            indent: 0.0,
            leading: 1.45,
        };
        let text = |c: &mut Self, s: &str, p: Para, y: &mut f32, items: &mut Vec<Item>| {
            let laid = c.lay(s, p.size, iw, iw);
            for line in &laid.lines {
                let base = p.baseline_in(*y);
                if let Some(run) = c.run(s, &laid, line, (CARD_PAD, base), p, None) {
                    items.push(Item::Text(run));
                }
                *y += p.line_h();
            }
        };

        text(
            self,
            card.role.label_zh(),
            Para {
                ink: Ink::Bold,
                ..small
            },
            &mut y,
            &mut items,
        );
        let name = card
            .party
            .map(|p| p.name.as_str())
            .or(card.signature.map(|(s, _)| s.signer_name.as_str()))
            .unwrap_or_default();
        let mut who = one_line(name);
        if who.is_empty() {
            who = "—".into();
        }
        if let Some(p) = card.party {
            if !p.relation.trim().is_empty() {
                who.push_str(&format!("（{}）", one_line(&p.relation)));
            }
        }
        text(
            self,
            &who,
            Para {
                size: BODY,
                ..small
            },
            &mut y,
            &mut items,
        );
        if let Some(p) = card.party {
            if !p.id_number_masked.trim().is_empty() {
                text(self, "身份证号：", small, &mut y, &mut items);
                let id = one_line(&p.id_number_masked);
                text(self, &id, small, &mut y, &mut items);
            }
        }

        // The signature box.
        y = (y + 3.0).max(box_top);
        let top = y;
        items.push(Item::Frame {
            x: CARD_PAD,
            y,
            w: iw,
            h: SIGNATURE_BOX_H,
            gray: 200,
        });
        match card.signature {
            Some((_, index)) => {
                if let Some(s) = strokes.get(index) {
                    let (pw, ph) = s.image.dimensions();
                    let (bw, bh) = (iw - 8.0, SIGNATURE_BOX_H - 8.0);
                    let scale = (bw / pw as f32).min(bh / ph as f32);
                    let (w, h) = (pw as f32 * scale, ph as f32 * scale);
                    items.push(Item::Image {
                        index,
                        x: CARD_PAD + (iw - w) / 2.0,
                        y: y + (SIGNATURE_BOX_H - h) / 2.0,
                        w,
                        h,
                    });
                }
            }
            None => {
                let gray = Para {
                    ink: Ink::Gray,
                    align: Align::Center,
                    ..small
                };
                let laid = self.lay("未签署", DETAIL, iw, iw);
                if let Some(line) = laid.lines.first() {
                    let x = CARD_PAD + ((iw - line.width) / 2.0).max(0.0);
                    let base = gray.baseline_in(y + (SIGNATURE_BOX_H - gray.line_h()) / 2.0);
                    if let Some(run) = self.run("未签署", &laid, line, (x, base), gray, None) {
                        items.push(Item::Text(run));
                    }
                }
            }
        }
        y += SIGNATURE_BOX_H + 3.0;

        if let Some((sig, _)) = card.signature {
            let signer = one_line(&sig.signer_name);
            if card.party.is_some_and(|p| one_line(&p.name) != signer) && !signer.is_empty() {
                text(
                    self,
                    &format!("签名人：{signer}"),
                    small,
                    &mut y,
                    &mut items,
                );
            }
            if !sig.signed_at.trim().is_empty() {
                text(self, "签署时间：", small, &mut y, &mut items);
                let when = zh_date_time(&sig.signed_at, true);
                text(self, &when, small, &mut y, &mut items);
            }
        }
        (items, y + CARD_PAD, top)
    }

    /// The three copies, and how to check a paper copy.
    fn closing(&mut self) {
        self.gap(BODY * 0.5);
        let p = Para::body();
        self.ensure(p.line_h() * 2.0 + DETAIL * 1.5 * 2.0);
        self.paragraph(THREE_COPIES, p, 0.0);
        let note = Para {
            size: DETAIL,
            ink: Ink::Gray,
            leading: 1.5,
            ..Para::body()
        };
        self.paragraph(HOW_TO_CHECK, note, 0.0);
    }

    /// The running header (from page 2) and every page's footer.
    fn headers_and_footers(&mut self, title: &str, input: &PrintableAgreement, hash: &str) {
        let n = self.pages.len();
        let foot = Para {
            size: FOOT,
            ink: Ink::Gray,
            align: Align::Center,
            indent: 0.0,
            leading: 1.4,
        };
        let header = format!(
            "{}（第{}版）\u{3000}\u{3000}儿童：{}",
            title,
            input.version,
            one_line(&input.child_name)
        );
        let hash_line = format!("协议全文 SHA-256：{hash}");
        for i in 0..n {
            let mut items = Vec::new();
            if i > 0 {
                let left = Para {
                    align: Align::Left,
                    ..foot
                };
                items.extend(self.single_line(&header, left, HEADER_BASELINE));
                items.push(Item::Rule {
                    x1: MARGIN_X,
                    x2: PAGE_W - MARGIN_X,
                    y: HEADER_RULE,
                    gray: 170,
                });
            }
            items.push(Item::Rule {
                x1: MARGIN_X,
                x2: PAGE_W - MARGIN_X,
                y: FOOTER_RULE,
                gray: 170,
            });
            items.extend(self.single_line(&hash_line, foot, FOOTER_HASH_BASELINE));
            let page = format!("第 {} 页 共 {} 页", i + 1, n);
            items.extend(self.single_line(
                &page,
                Para {
                    ink: Ink::Black,
                    ..foot
                },
                FOOTER_PAGE_BASELINE,
            ));
            if let Some(page) = self.pages.get_mut(i) {
                page.extend(items);
            }
        }
    }

    /// The first line of `text` across the text width (the rest, if any, is dropped:
    /// for the header and footer, which hold one line).
    fn single_line(&mut self, text: &str, p: Para, baseline: f32) -> Option<Item> {
        let laid = self.lay(text, p.size, TEXT_W, TEXT_W);
        let line = laid.lines.first()?;
        let x = MARGIN_X
            + match p.align {
                Align::Center => ((TEXT_W - line.width) / 2.0).max(0.0),
                _ => 0.0,
            };
        self.run(text, &laid, line, (x, baseline), p, None)
            .map(Item::Text)
    }
}

/// The signatures block, laid out: the card width, and per row each card's items
/// (relative to the card) and the row's height.
struct CardRows {
    cw: f32,
    rows: Vec<(Vec<Vec<Item>>, f32)>,
}

/// A card in the signatures block: a party and its signature, or a signature alone.
struct Card<'a> {
    role: SignerRole,
    party: Option<&'a Party>,
    /// The signature and its index in the input.
    signature: Option<(&'a SignatureImage, usize)>,
}

/// Pairs each party with its signature (same role and name, else the first unused of
/// the same role); signatures left over get cards of their own. Ordered 甲, 乙, witness,
/// each in input order.
fn match_cards<'a>(parties: &'a [Party], signatures: &'a [SignatureImage]) -> Vec<Card<'a>> {
    let mut used = vec![false; signatures.len()];
    let mut cards = Vec::new();
    for party in parties {
        let same_role = |s: &SignatureImage| s.role == party.role;
        let pick = signatures
            .iter()
            .enumerate()
            .position(|(i, s)| {
                !used[i] && same_role(s) && one_line(&s.signer_name) == one_line(&party.name)
            })
            .or_else(|| {
                signatures
                    .iter()
                    .enumerate()
                    .position(|(i, s)| !used[i] && same_role(s))
            });
        if let Some(i) = pick {
            used[i] = true;
        }
        cards.push(Card {
            role: party.role,
            party: Some(party),
            signature: pick.map(|i| (&signatures[i], i)),
        });
    }
    for (i, s) in signatures.iter().enumerate() {
        if !used[i] {
            cards.push(Card {
                role: s.role,
                party: None,
                signature: Some((s, i)),
            });
        }
    }
    cards.sort_by_key(|c| c.role.rank());
    cards
}

/// A clause heading: 一、… to 十一、… (Chinese numeral and 、), short.
fn is_heading(line: &str) -> bool {
    let t = line.trim();
    let numeral = t
        .chars()
        .take_while(|c| "一二三四五六七八九十百零".contains(*c))
        .count();
    numeral > 0 && t.chars().nth(numeral) == Some('、') && t.chars().count() <= 30
}

/// A person's text on one line: whitespace runs become one space, control characters
/// go.
fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// `2026-05-20` → `2026年5月20日`; with `time`, `2026-05-20T10:05:00+08:00` →
/// `2026年5月20日 10:05` (the time as the device recorded it, local). Anything else is
/// printed as given, on one line.
fn zh_date_time(s: &str, time: bool) -> String {
    let t = s.trim();
    let num = |r: Range<usize>| -> Option<u32> {
        let part = t.get(r)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let date = (|| {
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let seps = t.get(4..5)? == "-" && t.get(7..8)? == "-";
        (seps && (1..=12).contains(&m) && (1..=31).contains(&d)).then(|| format!("{y}年{m}月{d}日"))
    })();
    let Some(date) = date else {
        return one_line(t);
    };
    if !time {
        return date;
    }
    let clock = (|| {
        let sep = t.get(10..11)?;
        let (h, mi) = (num(11..13)?, num(14..16)?);
        ((sep == "T" || sep == " ") && t.get(13..14)? == ":" && h < 24 && mi < 60)
            .then(|| format!("{h:02}:{mi:02}"))
    })();
    match clock {
        Some(c) => format!("{date} {c}"),
        None => date,
    }
}

/// Draws the laid-out pages with krilla.
fn draw(
    pages: &[Vec<Item>],
    images: &[krilla::image::Image],
    font: &AgreementFont,
    title: &str,
) -> Result<Vec<u8>, PdfError> {
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(title.to_string())
            .language("zh-CN".into())
            .creator("童护 Tonghu agreement-pdf".into()),
    );
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| PdfError::Write("invalid page size".into()))?;
    for items in pages {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for item in items {
            match item {
                Item::Text(run) => draw_run(&mut surface, run, font),
                Item::Image { index, x, y, w, h } => {
                    if let (Some(image), Some(size)) = (images.get(*index), Size::from_wh(*w, *h)) {
                        surface.push_transform(&Transform::from_translate(*x, *y));
                        surface.draw_image(image.clone(), size);
                        surface.pop();
                    }
                }
                Item::Rule { x1, x2, y, gray } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y);
                    pb.line_to(*x2, *y);
                    stroke_path(&mut surface, pb, *gray, 0.6);
                }
                Item::Frame { x, y, w, h, gray } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x, *y);
                    pb.line_to(x + w, *y);
                    pb.line_to(x + w, y + h);
                    pb.line_to(*x, y + h);
                    pb.close();
                    stroke_path(&mut surface, pb, *gray, 0.6);
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| PdfError::Write(e.to_string()))
}

fn gray(level: u8) -> rgb::Color {
    rgb::Color::new(level, level, level)
}

fn stroke_path(surface: &mut krilla::surface::Surface<'_>, pb: PathBuilder, level: u8, width: f32) {
    let Some(path) = pb.finish() else { return };
    surface.set_fill(None);
    surface.set_stroke(Some(Stroke {
        paint: gray(level).into(),
        width,
        ..Stroke::default()
    }));
    surface.draw_path(&path);
    surface.set_stroke(None);
}

fn draw_run(surface: &mut krilla::surface::Surface<'_>, run: &Run, font: &AgreementFont) {
    if run.glyphs.is_empty() || run.size <= 0.0 {
        return;
    }
    let level = if run.ink == Ink::Gray { 90 } else { 0 };
    surface.set_fill(Some(Fill {
        paint: gray(level).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }));
    surface.set_stroke((run.ink == Ink::Bold).then(|| Stroke {
        paint: gray(level).into(),
        width: run.size * 0.03,
        ..Stroke::default()
    }));
    let glyphs: Vec<KrillaGlyph> = run
        .glyphs
        .iter()
        .map(|(range, gid, advance)| {
            KrillaGlyph::new(
                krilla::text::GlyphId::new(gid.to_u32()),
                advance / run.size,
                0.0,
                0.0,
                0.0,
                range.clone(),
                None,
            )
        })
        .collect();
    surface.draw_glyphs(
        Point::from_xy(run.x, run.baseline),
        &glyphs,
        font.krilla().clone(),
        &run.text,
        run.size,
        false,
    );
    surface.set_stroke(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_the_chinese_way_and_odd_ones_as_given() {
        assert_eq!(zh_date_time("2026-05-20", false), "2026年5月20日");
        assert_eq!(
            zh_date_time("2026-05-20T10:05:00+08:00", true),
            "2026年5月20日 10:05"
        );
        assert_eq!(
            zh_date_time("2026-05-20T10:05:00+08:00", false),
            "2026年5月20日"
        );
        assert_eq!(zh_date_time("2026-05-20", true), "2026年5月20日");
        assert_eq!(zh_date_time("昨天\n下午", true), "昨天 下午");
        assert_eq!(zh_date_time("2026-13-20", false), "2026-13-20");
        assert_eq!(zh_date_time("２０２６-05-20", false), "２０２６-05-20");
        assert_eq!(zh_date_time("", true), "");
    }

    #[test]
    fn clause_headings_are_recognised() {
        assert!(is_heading("一、协议各方"));
        assert!(is_heading("十一、其他"));
        assert!(!is_heading("（一）照顾儿童的日常生活"));
        assert!(!is_heading("一"));
        assert!(!is_heading("、"));
        assert!(!is_heading(&format!("一、{}", "长".repeat(40))));
    }

    fn party(role: SignerRole, name: &str) -> Party {
        Party {
            role,
            name: name.into(),
            relation: String::new(),
            id_number_masked: String::new(),
        }
    }

    fn sig(role: SignerRole, name: &str) -> SignatureImage {
        SignatureImage {
            role,
            signer_name: name.into(),
            signed_at: String::new(),
            png: Vec::new(),
        }
    }

    #[test]
    fn signatures_go_to_their_parties_and_leftovers_get_cards() {
        use SignerRole::*;
        let parties = [
            party(Witness, "某村村民委员会"),
            party(Principal, "王建国"),
            party(Caregiver, "王德福"),
        ];
        let sigs = [
            sig(Caregiver, "王德福"),
            sig(Witness, "刘芳"),
            sig(Principal, "王建国"),
            sig(Principal, "李秀英"),
        ];
        let cards = match_cards(&parties, &sigs);
        let shape: Vec<_> = cards
            .iter()
            .map(|c| {
                (
                    c.role,
                    c.party.map(|p| p.name.as_str()),
                    c.signature.map(|(_, i)| i),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (Principal, Some("王建国"), Some(2)),
                (Principal, None, Some(3)),
                (Caregiver, Some("王德福"), Some(0)),
                (Witness, Some("某村村民委员会"), Some(1)),
            ]
        );
        // A party who has not signed keeps an empty box.
        let cards = match_cards(&parties, &sigs[..1]);
        assert!(cards[0].signature.is_none() && cards[1].signature.is_some());
    }
}
