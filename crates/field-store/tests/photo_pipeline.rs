//! The photo pipeline end to end: orientation, metadata stripping, sizes, hostile and
//! broken inputs, signatures. All inputs are generated here (no binary fixtures).

use field_store::photo::{
    process_photo, process_signature, sha256_hex, PhotoError, PhotoLimits, SIGNATURE_MAX_HEIGHT,
    SIGNATURE_MAX_WIDTH,
};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Input generation.

const RED: Rgb<u8> = Rgb([230, 20, 20]);
const BLUE: Rgb<u8> = Rgb([20, 40, 220]);

/// The GPS latitude seconds (27.17″ = 2717/100) as stored in our EXIF: big-endian
/// rational. Distinctive enough that finding it in an output would mean a leak.
const GPS_SECONDS: [u8; 8] = [0, 0, 0x0A, 0x9D, 0, 0, 0, 100];

/// A camera-style APP1 segment: IFD0 with Orientation and a pointer to a GPS IFD holding
/// GPSLatitudeRef "N" and GPSLatitude 28°41′27.17″ (Tonghu is in Jiangxi).
fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    // IFD0 at offset 8: 2 entries (8 + 2 + 24 + 4 = 38).
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]); // Orientation, SHORT, 1
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]); // GPS IFD at 38
    tiff.extend_from_slice(&0u32.to_be_bytes());
    // GPS IFD at offset 38: 2 entries (38 + 2 + 24 + 4 = 68), rationals at 68.
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]); // GPSLatitudeRef
    tiff.extend_from_slice(&[0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 68]); // GPSLatitude
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 28, 0, 0, 0, 1, 0, 0, 0, 41, 0, 0, 0, 1]);
    tiff.extend_from_slice(&GPS_SECONDS);
    assert_eq!(tiff.len(), 68 + 24);

    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// A JPEG as a phone writes it: SOI, the EXIF APP1, then the rest.
fn camera_jpeg(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let plain = jpeg(img, 95);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&exif_app1(orientation));
    out.extend_from_slice(&plain[2..]);
    out
}

fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgba8,
        )
        .unwrap();
    out
}

/// Blue image with a red square in the stored top-left corner.
fn marked(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| if x < 40 && y < 40 { RED } else { BLUE })
}

/// A smooth, slightly textured image of the given size (cheap to generate).
fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x ^ y) & 0x3f) as u8 + 100,
        ])
    })
}

// ---------------------------------------------------------------------------------------
// Output inspection.

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().into_rgb8()
}

fn is_red(p: &Rgb<u8>) -> bool {
    p[0] > 180 && p[1] < 80 && p[2] < 80
}

fn is_blue(p: &Rgb<u8>) -> bool {
    p[0] < 80 && p[1] < 100 && p[2] > 170
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The markers of a JPEG's header segments, from SOI up to and including SOS.
fn header_markers(jpeg: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "starts with SOI");
    let mut markers = vec![];
    let mut pos = 2;
    loop {
        assert_eq!(jpeg[pos], 0xFF, "marker at {pos}");
        let m = jpeg[pos + 1];
        markers.push(m);
        if m == 0xDA {
            return markers;
        }
        let len = u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]) as usize;
        pos += 2 + len;
    }
}

fn assert_no_metadata(jpeg: &[u8], what: &str) {
    assert!(!contains(jpeg, b"Exif\0\0"), "{what}: Exif header survived");
    assert!(!contains(jpeg, b"Exif"), "{what}: 'Exif' bytes survived");
    assert!(
        !contains(jpeg, &[0xFF, 0xE1]),
        "{what}: APP1 marker survived"
    );
    assert!(!contains(jpeg, &GPS_SECONDS), "{what}: GPS value survived");
    assert!(!contains(jpeg, b"MM\0\x2a"), "{what}: TIFF header survived");
    // Structurally: only JFIF APP0, tables, frame and scan headers before the data.
    for m in header_markers(jpeg) {
        assert!(
            matches!(m, 0xE0 | 0xDB | 0xC0 | 0xC4 | 0xDA),
            "{what}: unexpected header segment FF{m:02X}"
        );
    }
    assert!(jpeg.ends_with(&[0xFF, 0xD9]), "{what}: ends with EOI");
}

fn err(input: &[u8]) -> PhotoError {
    process_photo(input, &PhotoLimits::default()).expect_err("input must be refused")
}

// ---------------------------------------------------------------------------------------
// Orientation.

#[test]
fn orientation_6_turns_a_sideways_photo_upright() {
    let input = camera_jpeg(&marked(400, 200), 6);
    let out = process_photo(&input, &PhotoLimits::default()).unwrap();
    assert_eq!((out.width, out.height), (200, 400));

    // Orientation 6 = rotate 90° clockwise: the stored top-left lands top-right.
    let full = decode(&out.full);
    assert_eq!(full.dimensions(), (200, 400));
    assert!(
        is_red(full.get_pixel(185, 15)),
        "{:?}",
        full.get_pixel(185, 15)
    );
    assert!(
        is_blue(full.get_pixel(15, 15)),
        "{:?}",
        full.get_pixel(15, 15)
    );
    assert!(is_blue(full.get_pixel(185, 385)));

    let thumb = decode(&out.thumb);
    assert_eq!(thumb.dimensions(), (160, 320));
    assert!(
        is_red(thumb.get_pixel(150, 8)),
        "{:?}",
        thumb.get_pixel(150, 8)
    );
    assert!(is_blue(thumb.get_pixel(8, 8)));
}

#[test]
fn every_common_orientation_puts_the_corner_where_it_belongs() {
    // (orientation, output size, where the red corner must be, a point that must be blue)
    let cases = [
        (1u16, (400, 200), (15, 15), (385, 15)),
        (3, (400, 200), (385, 185), (15, 15)),
        (6, (200, 400), (185, 15), (15, 15)),
        (8, (200, 400), (15, 385), (15, 15)),
    ];
    for (orientation, size, red_at, blue_at) in cases {
        let out = process_photo(
            &camera_jpeg(&marked(400, 200), orientation),
            &Default::default(),
        )
        .unwrap();
        let full = decode(&out.full);
        assert_eq!(full.dimensions(), size, "orientation {orientation}");
        assert_eq!((out.width, out.height), size);
        assert!(
            is_red(full.get_pixel(red_at.0, red_at.1)),
            "orientation {orientation}: {:?}",
            full.get_pixel(red_at.0, red_at.1)
        );
        assert!(
            is_blue(full.get_pixel(blue_at.0, blue_at.1)),
            "orientation {orientation}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Metadata.

#[test]
fn no_exif_or_gps_survives_in_either_output() {
    let input = camera_jpeg(&gradient(2000, 1000), 6);
    assert!(contains(&input, b"Exif\0\0") && contains(&input, &GPS_SECONDS));
    assert!(contains(&input, &[0xFF, 0xE1]));

    let out = process_photo(&input, &PhotoLimits::default()).unwrap();
    assert_no_metadata(&out.full, "full");
    assert_no_metadata(&out.thumb, "thumb");
    // And the image crate finds no EXIF block either.
    use image::ImageDecoder;
    for bytes in [&out.full, &out.thumb] {
        let mut d = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(d.exif_metadata().unwrap(), None);
        assert_eq!(d.icc_profile().unwrap(), None);
        assert_eq!(d.xmp_metadata().unwrap(), None);
    }
}

// ---------------------------------------------------------------------------------------
// Sizes.

#[test]
fn long_edge_is_1600_and_thumb_320() {
    let out = process_photo(&jpeg(&gradient(2000, 1000), 90), &Default::default()).unwrap();
    assert_eq!((out.width, out.height), (1600, 800));
    assert_eq!(decode(&out.full).dimensions(), (1600, 800));
    assert_eq!(decode(&out.thumb).dimensions(), (320, 160));

    let out = process_photo(&jpeg(&gradient(900, 1800), 90), &Default::default()).unwrap();
    assert_eq!((out.width, out.height), (800, 1600));
    assert_eq!(decode(&out.thumb).dimensions(), (160, 320));
}

#[test]
fn small_images_are_never_upscaled() {
    let out = process_photo(&jpeg(&gradient(640, 480), 90), &Default::default()).unwrap();
    assert_eq!((out.width, out.height), (640, 480));
    assert_eq!(decode(&out.full).dimensions(), (640, 480));
    assert_eq!(decode(&out.thumb).dimensions(), (320, 240));

    let out = process_photo(&jpeg(&gradient(100, 50), 90), &Default::default()).unwrap();
    assert_eq!((out.width, out.height), (100, 50));
    assert_eq!(decode(&out.thumb).dimensions(), (100, 50));
}

#[test]
fn hashes_identify_the_outputs_and_are_deterministic() {
    let input = camera_jpeg(&gradient(1800, 1200), 1);
    let a = process_photo(&input, &Default::default()).unwrap();
    let b = process_photo(&input, &Default::default()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.full_sha256, sha256_hex(&a.full));
    assert_eq!(a.thumb_sha256, sha256_hex(&a.thumb));
    assert_eq!(a.full_sha256.len(), 64);
    assert!(a
        .full_sha256
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_ne!(a.full_sha256, a.thumb_sha256);
}

#[test]
fn png_and_webp_inputs_work_and_transparency_becomes_white() {
    // Transparent left half, opaque red right half.
    let img = RgbaImage::from_fn(300, 200, |x, _| {
        if x < 150 {
            Rgba([0, 0, 0, 0])
        } else {
            Rgba([230, 20, 20, 255])
        }
    });
    let out = process_photo(&png_rgba(&img), &Default::default()).unwrap();
    let full = decode(&out.full);
    assert_eq!(full.dimensions(), (300, 200));
    let left = full.get_pixel(40, 100);
    assert!(
        left.0.iter().all(|&c| c > 240),
        "transparent → white, got {left:?}"
    );
    assert!(is_red(full.get_pixel(260, 100)));
    assert_no_metadata(&out.full, "png→full");

    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp)
        .write_image(img.as_raw(), 300, 200, ExtendedColorType::Rgba8)
        .unwrap();
    let out = process_photo(&webp, &Default::default()).unwrap();
    assert_eq!((out.width, out.height), (300, 200));
    assert!(is_red(decode(&out.full).get_pixel(260, 100)));
}

// ---------------------------------------------------------------------------------------
// Hostile and broken input: each a clear error with the right code, never a panic.

/// A PNG chunk with a correct CRC.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A well-formed, tiny PNG whose header declares `w`×`h` RGB pixels.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    // A few bytes of zlib data (an empty stored block); the rest "would follow".
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[test]
fn decompression_bomb_png_is_refused_from_its_header() {
    let bomb = png_declaring(100_000, 100_000);
    assert!(bomb.len() < 100, "the bomb is tiny: {} bytes", bomb.len());
    let e = err(&bomb);
    assert_eq!(e.code(), "too_many_pixels", "{e}");
    assert!(matches!(
        e,
        PhotoError::TooManyPixels {
            width: 100_000,
            height: 100_000,
            ..
        }
    ));
    assert!(e.zh().contains("100000×100000"), "{}", e.zh());

    // Over the pixel budget with both sides allowed, and over one side's limit.
    assert_eq!(
        err(&png_declaring(10_000, 10_000)).code(),
        "too_many_pixels"
    );
    assert_eq!(err(&png_declaring(12_001, 10)).code(), "too_many_pixels");
    assert_eq!(
        process_signature(&bomb, &Default::default())
            .unwrap_err()
            .code(),
        "too_many_pixels"
    );
}

#[test]
fn limits_are_configurable() {
    let small = PhotoLimits {
        max_pixels: 10_000,
        ..Default::default()
    };
    let e = process_photo(&jpeg(&gradient(200, 100), 80), &small).unwrap_err();
    assert_eq!(e.code(), "too_many_pixels");

    let tiny_files = PhotoLimits {
        max_input_bytes: 100,
        ..Default::default()
    };
    let e = process_photo(&jpeg(&gradient(200, 100), 80), &tiny_files).unwrap_err();
    assert_eq!(e.code(), "too_large");
}

#[test]
fn a_100_mb_input_is_refused_before_anything_else() {
    let mut huge = vec![0u8; 100 * 1024 * 1024];
    huge[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    let e = err(&huge);
    assert_eq!(e.code(), "too_large");
    assert_eq!(
        e,
        PhotoError::TooLarge {
            bytes: 100 * 1024 * 1024,
            limit: 25 * 1024 * 1024
        }
    );
    assert_eq!(e.zh(), "照片文件太大（超过 25 MB），请重新拍摄");
}

#[test]
fn truncated_jpegs_are_corrupt() {
    let good = camera_jpeg(&gradient(300, 200), 6);
    process_photo(&good, &Default::default()).unwrap();
    // Cut in the EXIF segment, in the tables, early and late in the scan, before EOI.
    for cut in [
        10,
        150,
        400,
        good.len() / 2,
        good.len() - 100,
        good.len() - 1,
    ] {
        let e = err(&good[..cut]);
        assert_eq!(e.code(), "corrupt", "cut at {cut}: {e}");
        assert_eq!(e.zh(), "无法识别的图片文件，可能已损坏，请重新拍摄");
    }
}

#[test]
fn structurally_broken_jpegs_are_corrupt() {
    // SOI + EOI only: no image at all.
    assert_eq!(err(&[0xFF, 0xD8, 0xFF, 0xD9]).code(), "corrupt");
    // Just the magic.
    assert_eq!(err(&[0xFF, 0xD8, 0xFF]).code(), "corrupt");
    // A segment length running past the end of the file.
    let mut bad_len = jpeg(&gradient(64, 64), 80);
    bad_len[4] = 0xFF;
    bad_len[5] = 0xFF;
    assert_eq!(err(&bad_len).code(), "corrupt");
    // A frame header declaring 0×0.
    let mut zero = jpeg(&gradient(64, 64), 80);
    let sof = zero.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    zero[sof + 5..sof + 9].copy_from_slice(&[0, 0, 0, 0]);
    assert_eq!(err(&zero).code(), "corrupt");
    // A JPEG "bomb": 65000×65000 declared in the frame header of a tiny file.
    let mut bomb = jpeg(&gradient(64, 64), 80);
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    assert_eq!(err(&bomb).code(), "too_many_pixels");
}

#[test]
fn random_bytes_empty_files_and_other_formats() {
    assert_eq!(err(&[]), PhotoError::Empty);
    assert_eq!(err(&[]).code(), "empty");

    let mut state = 0x1234_5678_9abc_def0u64;
    let random: Vec<u8> = (0..10_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    assert_eq!(err(&random).code(), "unsupported_format");

    for other in [
        &b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"[..],
        b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", // iPhone HEIC
        b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0",
        b"II*\0\x08\0\0\0",
        b"%PDF-1.7\n",
    ] {
        let e = err(other);
        assert_eq!(e.code(), "unsupported_format");
        assert!(e.zh().contains("JPG"), "{}", e.zh());
    }
    // A PNG signature followed by garbage.
    let mut fake_png = b"\x89PNG\r\n\x1a\n".to_vec();
    fake_png.extend_from_slice(&random[..100]);
    assert_eq!(err(&fake_png).code(), "corrupt");
}

#[test]
fn every_error_has_a_code_a_chinese_message_and_an_english_display() {
    let errors = [
        PhotoError::Empty,
        PhotoError::TooLarge { bytes: 1, limit: 0 },
        PhotoError::TooManyPixels {
            width: 1,
            height: 1,
            max_pixels: 0,
            max_dimension: 0,
        },
        PhotoError::UnsupportedFormat,
        PhotoError::Corrupt("x".into()),
        PhotoError::Encode("x".into()),
    ];
    let mut codes = std::collections::HashSet::new();
    for e in errors {
        assert!(codes.insert(e.code()), "duplicate code {}", e.code());
        assert!(e
            .zh()
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
        assert!(e.to_string().is_ascii(), "{e}");
    }
}

// ---------------------------------------------------------------------------------------
// Signatures.

#[test]
fn signature_is_a_small_grayscale_png_on_white() {
    // A transparent canvas with black strokes, as a signature pad produces.
    let canvas = RgbaImage::from_fn(1200, 400, |x, y| {
        let on_stroke = (y as i32 - 200 - ((x as f32 / 40.0).sin() * 80.0) as i32).abs() < 4;
        if on_stroke {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let sig = process_signature(&png_rgba(&canvas), &Default::default()).unwrap();
    assert_eq!((sig.width, sig.height), (800, 267));
    assert!(sig.width <= SIGNATURE_MAX_WIDTH && sig.height <= SIGNATURE_MAX_HEIGHT);
    assert_eq!(sig.sha256, sha256_hex(&sig.png));
    assert!(sig.png.len() < 30_000, "{} bytes", sig.png.len());

    let decoded = image::load_from_memory(&sig.png).unwrap();
    assert_eq!(decoded.color(), image::ColorType::L8);
    let gray = decoded.into_luma8();
    assert_eq!(gray.get_pixel(5, 5)[0], 255, "background is white");
    assert!(gray.pixels().any(|p| p[0] < 64), "strokes are still there");
    // Only the essential PNG chunks: no metadata.
    for kind in [&b"eXIf"[..], b"tEXt", b"iTXt", b"zTXt", b"tIME", b"iCCP"] {
        assert!(!contains(&sig.png, kind));
    }

    // Small and tall signatures: never upscaled, bounded in height.
    let small =
        process_signature(&png_rgba(&RgbaImage::new(300, 100)), &Default::default()).unwrap();
    assert_eq!((small.width, small.height), (300, 100));
    let tall = process_signature(&jpeg(&gradient(300, 1000), 80), &Default::default()).unwrap();
    assert_eq!((tall.width, tall.height), (120, 400));

    assert_eq!(
        process_signature(&[], &Default::default())
            .unwrap_err()
            .code(),
        "empty"
    );
    assert_eq!(
        process_signature(b"hello", &Default::default())
            .unwrap_err()
            .code(),
        "unsupported_format"
    );
}

// ---------------------------------------------------------------------------------------
// Never panics.

fn small_valid_inputs() -> Vec<Vec<u8>> {
    let img = gradient(48, 32);
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp)
        .write_image(img.as_raw(), 48, 32, ExtendedColorType::Rgb8)
        .unwrap();
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(img.as_raw(), 48, 32, ExtendedColorType::Rgb8)
        .unwrap();
    vec![camera_jpeg(&img, 6), png, webp]
}

/// Keeps mutated headers from declaring (allowed but slow in a debug build) 50 MP images.
fn fuzz_limits() -> PhotoLimits {
    PhotoLimits {
        max_pixels: 1_000_000,
        max_dimension: 2_000,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = process_photo(&bytes, &PhotoLimits::default());
        let _ = process_signature(&bytes, &PhotoLimits::default());
    }

    #[test]
    fn random_bytes_behind_a_real_magic_never_panic(
        magic in 0usize..3,
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = match magic {
            0 => vec![0xFF, 0xD8, 0xFF],
            1 => b"\x89PNG\r\n\x1a\n".to_vec(),
            _ => b"RIFF\0\0\0\0WEBP".to_vec(),
        };
        bytes.extend(tail);
        let result = process_photo(&bytes, &fuzz_limits());
        // Random bytes are (almost) never a picture; whatever happens, it is an error
        // value, not a panic.
        if let Err(e) = result {
            prop_assert!(!e.code().is_empty());
        }
    }

    #[test]
    fn mutated_and_truncated_real_images_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = small_valid_inputs().swap_remove(which);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1).max(bytes.len() / 2);
        bytes.truncate(keep);
        let _ = process_photo(&bytes, &fuzz_limits());
        let _ = process_signature(&bytes, &fuzz_limits());
    }
}
