//! Printing one agreement: `render` on the sample signed agreement (the template text,
//! three parties, three 600×240 signature PNGs; 3 A4 pages), beside same-run
//! baselines, two of them krilla alone with the same font:
//!
//! - `render_without_signatures`: the same copy, its parties' boxes empty — what the
//!   three images (decode, trim, re-encode into the PDF) cost;
//! - `krilla_same_glyphs_unwrapped`: every line of the same text drawn as one run at
//!   12 pt, no line breaking, no layout, no images — what krilla alone costs to subset
//!   and write this glyph set;
//! - `krilla_bare_page_one_glyph`: one page, one glyph — the floor of loading the face
//!   and subsetting it at all.
//!
//! and `font_load`, reading and checking the 19 MB font file (done once at start-up).
//!
//! Run: `cargo bench -p agreement-pdf --bench render`

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use agreement_pdf::{find_system_font, render, AgreementFont};
use criterion::{criterion_group, criterion_main, Criterion};
use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::text::{GlyphId, KrillaGlyph};
use krilla::Document;
use skrifa::instance::{LocationRef, Size};
use skrifa::raw::TableProvider;
use skrifa::{FontRef, MetadataProvider};

/// The glyphs of one line of text, each with its real advance (no shaping).
fn glyphs(face: &FontRef<'_>, text: &str) -> Vec<KrillaGlyph> {
    let charmap = face.charmap();
    let metrics = face.glyph_metrics(Size::unscaled(), LocationRef::default());
    let upem = f32::from(face.head().map(|h| h.units_per_em()).unwrap_or(1000));
    text.char_indices()
        .map(|(i, c)| {
            let gid = charmap.map(c).unwrap_or_default();
            let adv = metrics.advance_width(gid).unwrap_or(upem) / upem;
            KrillaGlyph::new(
                GlyphId::new(gid.to_u32()),
                adv,
                0.0,
                0.0,
                0.0,
                i..i + c.len_utf8(),
                None,
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let path = find_system_font().expect("apt-get install fonts-noto-cjk");
    let font = AgreementFont::from_path(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let input = support::agreement();
    let face = FontRef::from_index(&bytes, font.index()).unwrap();
    let kfont = krilla::text::Font::new(
        krilla::Data::from(std::sync::Arc::new(bytes.clone())),
        font.index(),
    )
    .unwrap();
    let lines: Vec<(String, Vec<KrillaGlyph>)> = input
        .canonical_text
        .lines()
        .map(|l| (l.to_string(), glyphs(&face, l)))
        .collect();

    let copy = render(&input, &font).unwrap();
    eprintln!(
        "render: {} pages, {} bytes of PDF from a {} byte font",
        copy.pages,
        copy.pdf.len(),
        font.file_len()
    );

    let mut g = c.benchmark_group("agreement_pdf");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));

    g.bench_function("render", |b| {
        b.iter(|| render(black_box(&input), &font).unwrap())
    });

    // The same copy without the three signature images: what the images cost.
    let mut unsigned = input.clone();
    unsigned.signatures.clear();
    g.bench_function("render_without_signatures", |b| {
        b.iter(|| render(black_box(&unsigned), &font).unwrap())
    });

    g.bench_function("krilla_same_glyphs_unwrapped", |b| {
        b.iter(|| {
            let mut doc = Document::new();
            for page_lines in lines.chunks(40) {
                let mut page = doc.start_page_with(PageSettings::from_wh(595.0, 842.0).unwrap());
                let mut surface = page.surface();
                for (i, (text, glyphs)) in page_lines.iter().enumerate() {
                    surface.draw_glyphs(
                        Point::from_xy(40.0, 40.0 + 19.0 * i as f32),
                        glyphs,
                        kfont.clone(),
                        text,
                        12.0,
                        false,
                    );
                }
                surface.finish();
                page.finish();
            }
            doc.finish().unwrap()
        })
    });

    g.bench_function("krilla_bare_page_one_glyph", |b| {
        let one = glyphs(&face, "协");
        b.iter(|| {
            let mut doc = Document::new();
            let mut page = doc.start_page_with(PageSettings::from_wh(595.0, 842.0).unwrap());
            let mut surface = page.surface();
            surface.draw_glyphs(
                Point::from_xy(40.0, 40.0),
                &one,
                kfont.clone(),
                "协",
                12.0,
                false,
            );
            surface.finish();
            page.finish();
            doc.finish().unwrap()
        })
    });

    g.bench_function("font_load", |b| {
        b.iter(|| AgreementFont::from_path(black_box(&path)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
