//! Writes the sample agreement's printable copy (the one the tests print) to a file, to
//! look at it: `cargo run -p agreement-pdf --example sample -- /tmp/agreement.pdf`, then
//! `pdftoppm -png -r 110 -f 1 -l 1 /tmp/agreement.pdf /tmp/page`.

#[path = "../tests/support/mod.rs"]
mod support;

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "agreement.pdf".into());
    let font = support::font();
    let copy = agreement_pdf::render(&support::agreement(), &font).unwrap();
    std::fs::write(&out, &copy.pdf).unwrap();
    println!(
        "{out}: {} pages, {} bytes, font {} (face {}, {} bytes in its file)",
        copy.pages,
        copy.pdf.len(),
        font.family_name(),
        font.index(),
        font.file_len()
    );
}
