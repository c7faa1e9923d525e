//! The one font a printable copy is set in: a CJK OpenType font the caller loads once
//! (the phone ships it as an app resource, a Debian machine has it from
//! `fonts-noto-cjk`), and its metrics for laying out lines.
//!
//! The crate never bundles a font: a CJK font is 10–20 MB. Only the glyphs a copy uses
//! are embedded in its PDF (krilla subsets the face), so a copy stays in the tens of KB.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use skrifa::instance::{LocationRef, Size};
use skrifa::raw::FileRef;
use skrifa::string::StringId;
use skrifa::{FontRef, GlyphId, MetadataProvider};

use crate::PdfError;

/// Characters a face must map to be able to print an agreement at all.
const MUST_MAP: [char; 4] = ['协', '议', '护', '甲'];

/// Where Debian, other Linux distributions and Android keep a freely licensed CJK font
/// with a Simplified Chinese face, best first.
const SYSTEM_FONT_PATHS: [&str; 9] = [
    // Debian/Ubuntu `fonts-noto-cjk` (SIL OFL 1.1): a TTC, the SC face is picked by name.
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    // Android ships Noto Sans CJK as a system font.
    "/system/fonts/NotoSansCJK-Regular.ttc",
    // Fedora `google-noto-sans-cjk-fonts`, Arch `noto-fonts-cjk`.
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    // Debian `fonts-noto-cjk` serif, if only that is there.
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    // Debian `fonts-wqy-microhei` / `fonts-wqy-zenhei` (Apache 2.0 / GPL with font
    // exception).
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    // Debian `fonts-arphic-uming`.
    "/usr/share/fonts/truetype/arphic/uming.ttc",
];

/// The environment variable that names a font file to use instead of the system paths.
pub const FONT_ENV: &str = "TONGHU_CJK_FONT";

/// Finds a CJK font file on this machine: the file named by `TONGHU_CJK_FONT` if it
/// exists, else the first of the usual Debian (`fonts-noto-cjk`:
/// `/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc`), Android, Fedora and Arch
/// paths that exists. `None` when there is none (`apt-get install fonts-noto-cjk`).
///
/// Only whether the file exists is checked; [`AgreementFont::from_path`] reads it.
pub fn find_system_font() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(FONT_ENV) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
    }
    SYSTEM_FONT_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// A loaded CJK font face, ready to set agreements in. Load it once (reading and
/// checking 20 MB takes a few milliseconds) and render any number of copies with it;
/// it is cheap to clone and can be shared between threads.
#[derive(Clone)]
pub struct AgreementFont {
    data: Arc<Vec<u8>>,
    index: u32,
    family: String,
    krilla: krilla::text::Font,
}

impl std::fmt::Debug for AgreementFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgreementFont")
            .field("family", &self.family)
            .field("index", &self.index)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl AgreementFont {
    /// Loads a font from its bytes (`.otf`, `.ttf`, or a `.ttc` collection). In a
    /// collection the Simplified Chinese face is chosen by its name (`… SC`, `… CN`,
    /// `… GB`), else the first face that has Chinese glyphs: in Noto Sans CJK the SC face
    /// shapes characters such as 关, 骨 and 直 the way mainland readers expect.
    pub fn new(bytes: Vec<u8>) -> Result<AgreementFont, PdfError> {
        let index = pick_face(&bytes)?;
        AgreementFont::with_index(bytes, index)
    }

    /// Loads face `index` of a font file (0 for a plain `.otf`/`.ttf`).
    pub fn with_index(bytes: Vec<u8>, index: u32) -> Result<AgreementFont, PdfError> {
        let (family, maps_chinese) = {
            let face = FontRef::from_index(&bytes, index)
                .map_err(|e| PdfError::FontUnreadable(format!("face {index}: {e}")))?;
            let charmap = face.charmap();
            (
                family_name(&face),
                MUST_MAP.iter().all(|c| charmap.map(*c).is_some()),
            )
        };
        if !maps_chinese {
            return Err(PdfError::FontNotChinese);
        }
        let data = Arc::new(bytes);
        let krilla = krilla::text::Font::new(krilla::Data::from(data.clone()), index)
            .ok_or_else(|| PdfError::FontUnreadable(format!("face {index}: not usable")))?;
        Ok(AgreementFont {
            data,
            index,
            family,
            krilla,
        })
    }

    /// Reads and loads a font file (see [`AgreementFont::new`]), e.g. the one
    /// [`find_system_font`] found, or the app's bundled resource.
    pub fn from_path(path: &Path) -> Result<AgreementFont, PdfError> {
        let bytes = std::fs::read(path).map_err(|e| PdfError::FontMissing {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        AgreementFont::new(bytes)
    }

    /// The face's family name, e.g. `Noto Sans CJK SC`.
    pub fn family_name(&self) -> &str {
        &self.family
    }

    /// The face's index in its file (0 unless it is a collection).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The size of the whole font file in bytes (what a copy does *not* embed).
    pub fn file_len(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn krilla(&self) -> &krilla::text::Font {
        &self.krilla
    }

    /// Metrics for one render: glyph ids and advances, looked up once per character.
    pub(crate) fn metrics(&self) -> Result<Metrics<'_>, PdfError> {
        let face = FontRef::from_index(&self.data, self.index)
            .map_err(|e| PdfError::FontUnreadable(e.to_string()))?;
        let upem = face
            .head()
            .map(|h| h.units_per_em())
            .ok()
            .filter(|u| *u > 0)
            .unwrap_or(1000);
        Ok(Metrics {
            charmap: face.charmap(),
            glyphs: face.glyph_metrics(Size::unscaled(), LocationRef::default()),
            upem: f32::from(upem),
            cache: HashMap::new(),
            missing: Vec::new(),
        })
    }
}

use skrifa::raw::TableProvider as _;

/// The face of a file to use: see [`AgreementFont::new`].
fn pick_face(bytes: &[u8]) -> Result<u32, PdfError> {
    let file = FileRef::new(bytes).map_err(|e| PdfError::FontUnreadable(e.to_string()))?;
    let mut best: Option<(u8, u32)> = None;
    for (i, face) in file.fonts().enumerate() {
        let Ok(face) = face else { continue };
        let Ok(index) = u32::try_from(i) else { break };
        let charmap = face.charmap();
        if !MUST_MAP.iter().all(|c| charmap.map(*c).is_some()) {
            continue;
        }
        let score = simplified_score(&family_name(&face));
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, index));
        }
    }
    match best {
        Some((_, index)) => Ok(index),
        None if file.fonts().next().is_none() => {
            Err(PdfError::FontUnreadable("no font face in the file".into()))
        }
        None => Err(PdfError::FontNotChinese),
    }
}

/// How surely a family name is a Simplified Chinese face: 2 for an explicit SC/CN/GB
/// tag, 0 for anything else (TC, HK, JP, KR or no tag).
fn simplified_score(family: &str) -> u8 {
    let upper = family.to_uppercase();
    let tagged = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| matches!(w, "SC" | "CN" | "GB" | "PRC" | "HANS"));
    if tagged || family.contains("简") {
        2
    } else {
        0
    }
}

fn family_name(face: &FontRef<'_>) -> String {
    [StringId::TYPOGRAPHIC_FAMILY_NAME, StringId::FAMILY_NAME]
        .into_iter()
        .find_map(|id| {
            face.localized_strings(id)
                .english_or_first()
                .map(|s| s.chars().collect::<String>())
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_default()
}

/// Glyph lookups for one render. Characters the font lacks print as a white square (□)
/// and are listed in [`Metrics::missing`]; the PDF's text keeps the real character.
pub(crate) struct Metrics<'a> {
    charmap: skrifa::charmap::Charmap<'a>,
    glyphs: skrifa::metrics::GlyphMetrics<'a>,
    upem: f32,
    cache: HashMap<char, (GlyphId, f32)>,
    missing: Vec<char>,
}

impl Metrics<'_> {
    /// The glyph for `c` and its advance in em.
    pub(crate) fn glyph(&mut self, c: char) -> (GlyphId, f32) {
        if let Some(g) = self.cache.get(&c) {
            return *g;
        }
        let gid = match self.charmap.map(c) {
            Some(g) => g,
            None => {
                self.missing.push(c);
                // A white square, as Chinese texts mark a character that cannot be set
                // (the font's own .notdef, CID 0, is dropped by some text extractors).
                ['□', '?']
                    .iter()
                    .find_map(|r| self.charmap.map(*r))
                    .unwrap_or(GlyphId::NOTDEF)
            }
        };
        let advance = self
            .glyphs
            .advance_width(gid)
            .filter(|a| a.is_finite() && *a >= 0.0)
            .unwrap_or(self.upem)
            / self.upem;
        // A font that claims an absurd advance must not push text off the page.
        let advance = advance.min(2.0);
        self.cache.insert(c, (gid, advance));
        (gid, advance)
    }

    /// The advance of `c` in points at `size`.
    pub(crate) fn width(&mut self, c: char, size: f32) -> f32 {
        self.glyph(c).1 * size
    }

    /// The characters looked up that the font has no glyph for, in first-use order.
    pub(crate) fn missing(&self) -> &[char] {
        &self.missing
    }
}
