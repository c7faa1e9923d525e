//! Every stored photo fits 350 KB and its thumbnail 20 KB, whatever is in the picture:
//! the pipeline lowers the quality, then the size, until it fits. Tried with the most
//! detailed images we can make — per-pixel colour noise (which no JPEG compresses),
//! one-pixel checkerboards and stripes (the worst case of a DCT), noise over a photo —
//! from 1800×1200 to 4000×3000, as JPEG (even quality 100) and as PNG.

use field_store::photo::{process_photo, PhotoLimits, MAX_PHOTO_BYTES, MAX_THUMB_BYTES};
use image::{ImageEncoder, Rgb, RgbImage};

/// Deterministic xorshift, so every run tries the same pictures.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn noise(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut r = Rng(seed | 1);
    RgbImage::from_fn(w, h, |_, _| {
        let v = r.next();
        Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    })
}

fn checkerboard(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if (x + y) % 2 == 0 {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    })
}

/// One-pixel stripes in each channel at different angles: full-amplitude detail at the
/// highest frequencies in luma and chroma at once.
fn stripes(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            if x % 2 == 0 { 255 } else { 0 },
            if y % 2 == 0 { 255 } else { 0 },
            if (x + 2 * y) % 3 == 0 { 255 } else { 0 },
        ])
    })
}

/// A photo-like gradient with strong sensor noise on top (a dark room at high ISO).
fn noisy_photo(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut r = Rng(seed | 1);
    RgbImage::from_fn(w, h, |x, y| {
        let base = [(x * 255 / w) as i32, (y * 255 / h) as i32, 128];
        let n = |r: &mut Rng| (r.next() % 160) as i32 - 80;
        Rgb([
            (base[0] + n(&mut r)).clamp(0, 255) as u8,
            (base[1] + n(&mut r)).clamp(0, 255) as u8,
            (base[2] + n(&mut r)).clamp(0, 255) as u8,
        ])
    })
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    out
}

fn assert_within_budget(what: &str, input: &[u8]) {
    let p = process_photo(input, &PhotoLimits::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        p.full.len() <= MAX_PHOTO_BYTES,
        "{what}: photo {} bytes > {MAX_PHOTO_BYTES}",
        p.full.len()
    );
    assert!(
        p.thumb.len() <= MAX_THUMB_BYTES,
        "{what}: thumbnail {} bytes > {MAX_THUMB_BYTES}",
        p.thumb.len()
    );
    // Still a picture worth keeping, even of pure noise: a long edge of at least 640 px
    // (a real photo keeps far more, see the last test) and a real thumbnail.
    assert!(
        p.width.max(p.height) >= 640,
        "{what}: {}x{}",
        p.width,
        p.height
    );
    let thumb = image::load_from_memory(&p.thumb).unwrap();
    assert!(
        thumb.width().max(thumb.height()) >= 160,
        "{what}: thumbnail too small"
    );
    eprintln!(
        "{what}: {}x{} {} B, thumb {} B",
        p.width,
        p.height,
        p.full.len(),
        p.thumb.len()
    );
    let full = image::load_from_memory(&p.full).unwrap();
    assert_eq!((full.width(), full.height()), (p.width, p.height), "{what}");
}

#[test]
fn colour_noise_at_1800x1200_fits_as_jpeg_and_png() {
    let img = noise(1800, 1200, 7);
    assert_within_budget("noise 1800x1200 JPEG q95", &jpeg(&img, 95));
    assert_within_budget("noise 1800x1200 JPEG q100", &jpeg(&img, 100));
    assert_within_budget("noise 1800x1200 PNG", &png(&img));
}

#[test]
fn fine_patterns_fit() {
    assert_within_budget(
        "checkerboard 1800x1200 PNG",
        &png(&checkerboard(1800, 1200)),
    );
    assert_within_budget("stripes 1800x1200 PNG", &png(&stripes(1800, 1200)));
    assert_within_budget(
        "stripes 1800x1200 JPEG q98",
        &jpeg(&stripes(1800, 1200), 98),
    );
}

#[test]
fn a_detailed_photo_no_larger_than_the_long_edge_fits_too() {
    // Not resized by the long-edge rule: re-encoding at a fixed quality used to make it
    // larger than the budget.
    let img = noisy_photo(1600, 1200, 3);
    assert_within_budget("noisy photo 1600x1200 JPEG q92", &jpeg(&img, 92));
    assert_within_budget(
        "noise 1200x1600 PNG (portrait)",
        &png(&noise(1200, 1600, 5)),
    );
}

#[test]
fn a_12_megapixel_noisy_camera_photo_fits() {
    assert_within_budget(
        "noise 4000x3000 JPEG q85",
        &jpeg(&noise(4000, 3000, 11), 85),
    );
    assert_within_budget(
        "noisy photo 3000x4000 JPEG q92",
        &jpeg(&noisy_photo(3000, 4000, 13), 92),
    );
}

#[test]
fn an_ordinary_photo_keeps_its_quality_and_full_size() {
    // A smooth picture fits at once: no loss it does not need.
    let img = RgbImage::from_fn(2400, 1800, |x, y| {
        Rgb([(x / 10) as u8, (y / 8) as u8, ((x + y) / 20) as u8])
    });
    let p = process_photo(&jpeg(&img, 92), &PhotoLimits::default()).unwrap();
    assert_eq!((p.width, p.height), (1600, 1200));
    assert!(p.full.len() <= MAX_PHOTO_BYTES);
}
