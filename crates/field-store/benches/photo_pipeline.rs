//! Photo pipeline speed: a phone-camera-like 12 MP JPEG (4000×3000, quality 92, with an
//! EXIF block carrying an orientation and a GPS position) through `process_photo`,
//! against the naive pipeline (`image::load_from_memory` + `resize(.., Lanczos3)` + JPEG
//! encode) in the same run.
//!
//! Goal: ≤ 0.6 s per photo on the 2-core dev machine, output ≤ 350 KB.
//!
//! Run: `cargo bench -p field-store --bench photo_pipeline`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use field_store::photo::{process_photo, PhotoLimits};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageEncoder, RgbImage};

/// Deterministic xorshift so every run benches the same bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }
}

/// Something that compresses like a photo: smooth lighting gradients, a few objects
/// with hard edges, fine texture (like walls, fabric, foliage) and sensor noise.
fn photographic_image(w: u32, h: u32) -> RgbImage {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut img = RgbImage::new(w, h);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        // Sky-to-ground lighting.
        let mut r = 90.0 + 120.0 * (1.0 - fy) + 30.0 * fx;
        let mut g = 100.0 + 90.0 * (1.0 - fy) + 20.0 * (fx * 6.0).sin();
        let mut b = 60.0 + 150.0 * (1.0 - fy) * (1.0 - 0.5 * fx);
        // A "house": a darker block with a hard edge and a brick-like texture.
        if (0.2..0.65).contains(&fx) && (0.35..0.9).contains(&fy) {
            let brick = if (y / 24 + (x / 64) % 2) % 2 == 0 {
                18.0
            } else {
                -12.0
            };
            r = 150.0 + brick;
            g = 95.0 + brick * 0.6;
            b = 70.0 + brick * 0.4;
        }
        // A "door" and a "window".
        if (0.38..0.47).contains(&fx) && (0.6..0.9).contains(&fy) {
            r = 60.0;
            g = 40.0;
            b = 30.0;
        }
        if (0.52..0.6).contains(&fx) && (0.45..0.58).contains(&fy) {
            r = 170.0;
            g = 200.0;
            b = 220.0;
        }
        // Fine texture (foliage/fabric-like) and sensor noise.
        let texture = 10.0 * ((x as f32 * 0.31).sin() * (y as f32 * 0.17).cos());
        let noise = (rng.next() % 25) as f32 - 12.0;
        let chroma = (rng.next() % 9) as f32 - 4.0;
        let clamp = |v: f32| v.clamp(0.0, 255.0) as u8;
        *px = image::Rgb([
            clamp(r + texture + noise + chroma),
            clamp(g + texture + noise),
            clamp(b + texture + noise - chroma),
        ]);
    }
    img
}

/// A camera-style APP1 EXIF segment: Orientation = 6 (rotate 90° CW) and a GPS IFD.
fn exif_app1() -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    // IFD0 at 8: 2 entries.
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]); // Orientation
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]); // GPS IFD at 38
    tiff.extend_from_slice(&0u32.to_be_bytes());
    // GPS IFD at 38: GPSLatitudeRef "N", GPSLatitude 3 rationals at 68.
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend_from_slice(&[0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 68]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    for (n, d) in [(28u32, 1u32), (41, 1), (2717, 100)] {
        tiff.extend_from_slice(&n.to_be_bytes());
        tiff.extend_from_slice(&d.to_be_bytes());
    }
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

fn camera_jpeg() -> Vec<u8> {
    let img = photographic_image(4000, 3000);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 92)
        .write_image(img.as_raw(), 4000, 3000, image::ExtendedColorType::Rgb8)
        .unwrap();
    // Insert the EXIF segment right after SOI, where cameras put it.
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&exif_app1());
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn naive_pipeline(input: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(input).unwrap();
    let resized: DynamicImage = img.resize(1600, 1600, image::imageops::FilterType::Lanczos3);
    let rgb = resized.into_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80)
        .write_image(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

fn bench(c: &mut Criterion) {
    let input = camera_jpeg();
    let limits = PhotoLimits::default();

    let processed = process_photo(&input, &limits).expect("bench photo processes");
    let naive = naive_pipeline(&input);
    eprintln!(
        "input: 4000x3000 JPEG q92, {} KB | process_photo: full {}x{} {} KB, thumb {} KB | \
         naive: {} KB",
        input.len() / 1024,
        processed.width,
        processed.height,
        processed.full.len() / 1024,
        processed.thumb.len() / 1024,
        naive.len() / 1024,
    );

    let mut group = c.benchmark_group("photo_12mp");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("process_photo", |b| {
        b.iter(|| process_photo(black_box(&input), &limits).unwrap())
    });
    group.bench_function("naive_load_resize_lanczos3_encode", |b| {
        b.iter(|| naive_pipeline(black_box(&input)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
