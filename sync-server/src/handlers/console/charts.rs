//! Small inline SVG charts (bars), drawn on the server: no JavaScript, no images.

use crate::console::figures::Bar;
use crate::console::lang::Lang;

/// The sync-freshness bars with their labels in `l` (the figures give codes).
pub fn freshness_in(l: Lang, bars: &[Bar]) -> Vec<Bar> {
    bars.iter()
        .map(|b| Bar {
            label: match b.label.as_str() {
                "today" => l.pick("今天", "today"),
                "1_2_days" => l.pick("1–2 天", "1–2 days"),
                "3_13_days" => l.pick("3–13 天", "3–13 days"),
                "14_plus_days" => l.pick("14 天以上", "14+ days"),
                "never" => l.pick("从未", "never"),
                other => other,
            }
            .to_string(),
            value: b.value,
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A vertical bar chart with a label under each bar and its value above it.
pub fn bars(title: &str, bars: &[Bar], colour: &str) -> String {
    let w = 520.0;
    let h = 150.0;
    let top = 18.0;
    let bottom = 30.0;
    let n = bars.len().max(1) as f64;
    let slot = w / n;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let mut out = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let bh = (h - top - bottom) * b.value as f64 / max;
        let x = i as f64 * slot + slot * 0.15;
        let y = h - bottom - bh;
        out.push_str(&format!(
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{colour}" rx="2"/><text x="{cx:.1}" y="{ty:.1}" font-size="10" text-anchor="middle" fill="#333">{v}</text><text x="{cx:.1}" y="{ly:.1}" font-size="9" text-anchor="middle" fill="#666">{l}</text>"##,
            bw = slot * 0.7,
            cx = x + slot * 0.35,
            ty = (y - 3.0).max(10.0),
            v = b.value,
            ly = h - bottom + 13.0,
            l = esc(&b.label),
        ));
    }
    out.push_str("</svg>");
    out
}
