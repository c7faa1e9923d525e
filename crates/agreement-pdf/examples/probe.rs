#[path = "../tests/support/mod.rs"]
mod support;
fn main() {
    let text = std::env::args().nth(1).unwrap().replace("\\n", "\n");
    let font = support::font();
    let input = agreement_pdf::PrintableAgreement {
        text_sha256: domain::text_sha256(&text),
        canonical_text: text,
        ..support::agreement()
    };
    let copy = agreement_pdf::render(&input, &font).unwrap();
    std::fs::write("/tmp/probe.pdf", &copy.pdf).unwrap();
    println!("{:?}", copy.missing_glyphs);
}
