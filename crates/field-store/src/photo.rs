//! Photo and signature pipeline: turns whatever the camera (or the signature canvas)
//! hands us into small, clean, content-addressed blobs.
//!
//! A child director photographs a child's home during a visit. Before the picture goes
//! into the app's (encrypted) blob store, this module:
//!
//! 1. **Refuses dangerous input cheaply.** The input size is checked first, then the
//!    format is sniffed from the magic bytes (JPEG, PNG, WebP only), then the image
//!    dimensions are read from the file *header* by a small hand-written parser — no
//!    pixel memory is allocated before we know the image is at most
//!    [`PhotoLimits::max_pixels`] and [`PhotoLimits::max_dimension`] on each side. A
//!    100-byte PNG declaring 100000×100000 pixels (a "decompression bomb") is rejected
//!    in microseconds. The `image` decoder is then given [`image::Limits`] (dimension
//!    caps and `max_alloc`) as a second, independent guard. JPEGs are also walked
//!    marker by marker up to their end-of-image marker, so a truncated file (a photo
//!    whose save was interrupted) is reported as damaged instead of coming out half grey.
//! 2. **Decodes and applies the EXIF orientation**, so a portrait photo taken with the
//!    phone held sideways comes out upright. The orientation is applied after resizing
//!    (rotating 2 MP instead of 12 MP), which gives the same picture.
//! 3. **Resizes** to a long edge of at most [`PhotoLimits::long_edge`] (1600 px; never
//!    upscales) with a SIMD Lanczos3 resizer (`fast_image_resize`), and makes a
//!    thumbnail with a long edge of [`PhotoLimits::thumb_long_edge`] (320 px) from that.
//! 4. **Re-encodes both as baseline JPEG** without any metadata: no EXIF (so no GPS
//!    position of a child's home, no phone model, no time), no XMP, no ICC profile. The
//!    only header segment besides the image itself is the standard JFIF `APP0`. Each
//!    output stays within its budget whatever the picture holds
//!    ([`MAX_PHOTO_BYTES`], [`MAX_THUMB_BYTES`]): an ordinary photo is encoded once at
//!    [`PhotoLimits::jpeg_quality`]; a detailed one again at lower qualities, and
//!    smaller if that is not enough (noise and one-pixel patterns need it).
//!    Transparent images (PNG/WebP) are flattened onto white.
//! 5. **Hashes** the outputs (SHA-256, lowercase hex): the hash is the blob's id in the
//!    content-addressed store. The pipeline is deterministic: the same input on the
//!    same device gives byte-identical output.
//!
//! Signatures ([`process_signature`]) go through the same guards and are re-encoded as a
//! small grayscale PNG (at most [`SIGNATURE_MAX_WIDTH`]×[`SIGNATURE_MAX_HEIGHT`]),
//! with transparent canvas backgrounds flattened onto white.
//!
//! Errors are [`PhotoError`]: `code()` is a stable machine-readable reason, `zh()` the
//! plain-Chinese message shown to the director, and `Display` the English for logs.

use std::io::Cursor;

use fast_image_resize as fr;
use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngDecoder, PngEncoder};
use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, GrayImage, ImageDecoder, ImageEncoder, ImageError, RgbImage,
};
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;

/// The most a stored photo may weigh, in bytes (350 KB): what a director's phone
/// uploads over a weak signal, per photo.
pub const MAX_PHOTO_BYTES: usize = 350_000;
/// The most a thumbnail may weigh, in bytes (20 KB): what every device of the village
/// downloads for every photo.
pub const MAX_THUMB_BYTES: usize = 20_000;
/// The lowest JPEG quality tried before a photo is made smaller instead.
const MIN_PHOTO_QUALITY: u8 = 45;
/// The lowest JPEG quality tried before a thumbnail is made smaller instead.
const MIN_THUMB_QUALITY: u8 = 35;

/// Widest signature image we keep, in pixels.
pub const SIGNATURE_MAX_WIDTH: u32 = 800;
/// Tallest signature image we keep, in pixels.
pub const SIGNATURE_MAX_HEIGHT: u32 = 400;

/// Bounds and output settings for [`process_photo`] and [`process_signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoLimits {
    /// Largest accepted input file, in bytes (default 25 MiB).
    pub max_input_bytes: usize,
    /// Largest accepted image, in pixels (width × height; default 50 megapixels).
    pub max_pixels: u64,
    /// Largest accepted width or height, in pixels (default 12 000).
    pub max_dimension: u32,
    /// Long edge of the stored photo, in pixels (default 1600). Smaller photos are not
    /// upscaled.
    pub long_edge: u32,
    /// Long edge of the thumbnail, in pixels (default 320).
    pub thumb_long_edge: u32,
    /// JPEG quality of both outputs, 1–100 (default 80): the quality tried first.
    pub jpeg_quality: u8,
    /// Largest stored photo, bytes (default [`MAX_PHOTO_BYTES`]). A photo that comes
    /// out larger is encoded again at a lower quality, then made smaller, until it fits.
    pub max_photo_bytes: usize,
    /// Largest thumbnail, bytes (default [`MAX_THUMB_BYTES`]), kept the same way.
    pub max_thumb_bytes: usize,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        PhotoLimits {
            max_input_bytes: 25 * MIB,
            max_pixels: 50_000_000,
            max_dimension: 12_000,
            long_edge: 1600,
            thumb_long_edge: 320,
            jpeg_quality: 80,
            max_photo_bytes: MAX_PHOTO_BYTES,
            max_thumb_bytes: MAX_THUMB_BYTES,
        }
    }
}

/// A photo ready for the blob store: a metadata-free JPEG and its thumbnail.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// The stored photo (JPEG, upright, long edge ≤ `long_edge`).
    pub full: Vec<u8>,
    /// SHA-256 of `full`, lowercase hex.
    pub full_sha256: String,
    /// Width of `full` in pixels (after orientation).
    pub width: u32,
    /// Height of `full` in pixels (after orientation).
    pub height: u32,
    /// The thumbnail (JPEG, upright, long edge ≤ `thumb_long_edge`).
    pub thumb: Vec<u8>,
    /// SHA-256 of `thumb`, lowercase hex.
    pub thumb_sha256: String,
}

impl std::fmt::Debug for ProcessedPhoto {
    // The byte vectors are elided: a few hundred KB of numbers helps nobody in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessedPhoto")
            .field("full_len", &self.full.len())
            .field("full_sha256", &self.full_sha256)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("thumb_len", &self.thumb.len())
            .field("thumb_sha256", &self.thumb_sha256)
            .finish()
    }
}

/// A signature ready for the blob store: a small grayscale PNG.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessedSignature {
    pub png: Vec<u8>,
    /// SHA-256 of `png`, lowercase hex.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for ProcessedSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessedSignature")
            .field("png_len", &self.png.len())
            .field("sha256", &self.sha256)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Why a photo or signature was refused. `code()` is stable for machines, `zh()` is the
/// message for the director, `Display` is English for logs and developers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the image file is empty")]
    Empty,
    #[error("image file is {bytes} bytes, over the limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    #[error(
        "image is {width}x{height} pixels, over the limit of {max_pixels} pixels \
         or {max_dimension} pixels per side"
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_dimension: u32,
    },
    #[error("unsupported image format (only JPEG, PNG and WebP are accepted)")]
    UnsupportedFormat,
    #[error("the image file is damaged or truncated: {0}")]
    Corrupt(String),
    #[error("could not encode the processed image: {0}")]
    Encode(String),
}

impl PhotoError {
    /// A stable machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::Empty => "empty",
            PhotoError::TooLarge { .. } => "too_large",
            PhotoError::TooManyPixels { .. } => "too_many_pixels",
            PhotoError::UnsupportedFormat => "unsupported_format",
            PhotoError::Corrupt(_) => "corrupt",
            PhotoError::Encode(_) => "encode_failed",
        }
    }

    /// A plain-Chinese message for the person holding the phone.
    pub fn zh(&self) -> String {
        match self {
            PhotoError::Empty => "照片文件是空的，请重新拍摄".to_string(),
            PhotoError::TooLarge { limit, .. } => {
                let mb = (*limit as f64 / MIB as f64).round() as u64;
                format!("照片文件太大（超过 {mb} MB），请重新拍摄")
            }
            PhotoError::TooManyPixels { width, height, .. } => {
                format!(
                    "照片尺寸太大（{width}×{height} 像素），无法处理，请用手机相机正常拍摄后重试"
                )
            }
            PhotoError::UnsupportedFormat => {
                "不支持的图片格式，请使用 JPG、PNG 或 WebP 格式的照片".to_string()
            }
            PhotoError::Corrupt(_) => "无法识别的图片文件，可能已损坏，请重新拍摄".to_string(),
            PhotoError::Encode(_) => "照片处理失败，请重试；如果一直失败，请联系管理员".to_string(),
        }
    }
}

/// SHA-256 of `bytes` as lowercase hex (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks, decodes, orients, resizes and re-encodes a photo; see the module docs.
pub fn process_photo(input: &[u8], limits: &PhotoLimits) -> Result<ProcessedPhoto, PhotoError> {
    let decoded = guarded_decode(input, limits)?;
    let rgb = flatten_to_rgb(decoded.image);

    // Resize in the stored orientation, then rotate the (much smaller) result.
    let (tw, th) = fit_within(
        rgb.width(),
        rgb.height(),
        limits.long_edge,
        limits.long_edge,
    );
    let full = resize_rgb(rgb, tw, th)?;
    let full = orient_rgb(full, decoded.orientation);

    let (full, full_jpeg) = encode_within(
        full,
        limits.jpeg_quality,
        MIN_PHOTO_QUALITY,
        limits.max_photo_bytes,
    )?;

    let (thw, thh) = fit_within(
        full.width(),
        full.height(),
        limits.thumb_long_edge,
        limits.thumb_long_edge,
    );
    let thumb = resize_rgb_ref(&full, thw, thh)?;
    let (_, thumb_jpeg) = encode_within(
        thumb,
        limits.jpeg_quality,
        MIN_THUMB_QUALITY,
        limits.max_thumb_bytes,
    )?;
    Ok(ProcessedPhoto {
        full_sha256: sha256_hex(&full_jpeg),
        width: full.width(),
        height: full.height(),
        full: full_jpeg,
        thumb_sha256: sha256_hex(&thumb_jpeg),
        thumb: thumb_jpeg,
    })
}

/// Checks and re-encodes a signature image (PNG/JPEG/WebP of the strokes) as a small
/// grayscale PNG, at most [`SIGNATURE_MAX_WIDTH`]×[`SIGNATURE_MAX_HEIGHT`] (never
/// upscaled), transparent background flattened onto white.
pub fn process_signature(
    input: &[u8],
    limits: &PhotoLimits,
) -> Result<ProcessedSignature, PhotoError> {
    let decoded = guarded_decode(input, limits)?;
    let mut image = decoded.image;
    image.apply_orientation(decoded.orientation);
    let gray = flatten_to_gray(image);
    let (tw, th) = fit_within(
        gray.width(),
        gray.height(),
        SIGNATURE_MAX_WIDTH,
        SIGNATURE_MAX_HEIGHT,
    );
    let gray = resize_gray(gray, tw, th)?;

    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Best, PngFilter::Adaptive)
        .write_image(
            gray.as_raw(),
            gray.width(),
            gray.height(),
            ExtendedColorType::L8,
        )
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(ProcessedSignature {
        sha256: sha256_hex(&png),
        width: gray.width(),
        height: gray.height(),
        png,
    })
}

// ---------------------------------------------------------------------------------------
// Guards: size, format, header dimensions, then a limited decode.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jpeg,
    Png,
    WebP,
}

struct Decoded {
    image: DynamicImage,
    orientation: Orientation,
}

fn guarded_decode(input: &[u8], limits: &PhotoLimits) -> Result<Decoded, PhotoError> {
    if input.is_empty() {
        return Err(PhotoError::Empty);
    }
    if input.len() > limits.max_input_bytes {
        return Err(PhotoError::TooLarge {
            bytes: input.len(),
            limit: limits.max_input_bytes,
        });
    }
    let format = sniff(input).ok_or(PhotoError::UnsupportedFormat)?;
    let (width, height) = match format {
        Format::Jpeg => jpeg_header(input)?,
        Format::Png => png_dimensions(input)?,
        Format::WebP => webp_dimensions(input)?,
    };
    check_dimensions(width, height, limits)?;

    // Second guard: the decoder's own limits. Enough for 8-bit RGBA at the pixel cap.
    let too_many = || PhotoError::TooManyPixels {
        width,
        height,
        max_pixels: limits.max_pixels,
        max_dimension: limits.max_dimension,
    };
    let max_alloc = limits.max_pixels.saturating_mul(4);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_dimension);
    image_limits.max_image_height = Some(limits.max_dimension);
    image_limits.max_alloc = Some(max_alloc);

    let map_err = |e: ImageError| match e {
        ImageError::Limits(_) => too_many(),
        ImageError::Unsupported(_) => PhotoError::UnsupportedFormat,
        other => PhotoError::Corrupt(other.to_string()),
    };

    fn finish(
        mut decoder: impl ImageDecoder,
        limits: image::Limits,
        max_alloc: u64,
        header_dims: (u32, u32),
        map_err: impl Fn(ImageError) -> PhotoError,
        too_many: impl Fn() -> PhotoError,
    ) -> Result<Decoded, PhotoError> {
        decoder.set_limits(limits).map_err(&map_err)?;
        // Our header parser and the decoder must agree, or we trust neither.
        if decoder.dimensions() != header_dims {
            return Err(PhotoError::Corrupt(format!(
                "header says {}x{}, decoder says {}x{}",
                header_dims.0,
                header_dims.1,
                decoder.dimensions().0,
                decoder.dimensions().1
            )));
        }
        if decoder.total_bytes() > max_alloc {
            return Err(too_many());
        }
        // A broken EXIF block must not cost the photo; it then stays as stored.
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        let image = DynamicImage::from_decoder(decoder).map_err(&map_err)?;
        Ok(Decoded { image, orientation })
    }

    let dims = (width, height);
    match format {
        Format::Jpeg => {
            let decoder = JpegDecoder::new(Cursor::new(input)).map_err(map_err)?;
            finish(decoder, image_limits, max_alloc, dims, map_err, too_many)
        }
        Format::Png => {
            let decoder = PngDecoder::with_limits(Cursor::new(input), image_limits.clone())
                .map_err(map_err)?;
            finish(decoder, image_limits, max_alloc, dims, map_err, too_many)
        }
        Format::WebP => {
            let decoder = WebPDecoder::new(Cursor::new(input)).map_err(map_err)?;
            finish(decoder, image_limits, max_alloc, dims, map_err, too_many)
        }
    }
}

fn check_dimensions(width: u32, height: u32, limits: &PhotoLimits) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt(format!(
            "image declares {width}x{height} pixels"
        )));
    }
    if width > limits.max_dimension
        || height > limits.max_dimension
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_dimension: limits.max_dimension,
        });
    }
    Ok(())
}

fn sniff(input: &[u8]) -> Option<Format> {
    if input.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if input.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if input.len() >= 12 && &input[0..4] == b"RIFF" && &input[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else {
        None
    }
}

fn corrupt(what: &str) -> PhotoError {
    PhotoError::Corrupt(what.to_string())
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

/// PNG: the first chunk must be IHDR, whose first 8 bytes are width and height.
fn png_dimensions(b: &[u8]) -> Result<(u32, u32), PhotoError> {
    if b.get(12..16) != Some(b"IHDR") {
        return Err(corrupt("PNG without IHDR header"));
    }
    let w = be32(b, 16).ok_or_else(|| corrupt("PNG header truncated"))?;
    let h = be32(b, 20).ok_or_else(|| corrupt("PNG header truncated"))?;
    Ok((w, h))
}

/// WebP: the first chunk is VP8 (lossy), VP8L (lossless) or VP8X (extended).
fn webp_dimensions(b: &[u8]) -> Result<(u32, u32), PhotoError> {
    let short = || corrupt("WebP header truncated");
    match b.get(12..16).ok_or_else(short)? {
        b"VP8 " => {
            // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
            if b.get(23..26) != Some(&[0x9d, 0x01, 0x2a]) {
                return Err(corrupt("WebP VP8 start code missing"));
            }
            let w = u32::from(
                u16::from_le_bytes([*b.get(26).ok_or_else(short)?, *b.get(27).ok_or_else(short)?])
                    & 0x3fff,
            );
            let h = u32::from(
                u16::from_le_bytes([*b.get(28).ok_or_else(short)?, *b.get(29).ok_or_else(short)?])
                    & 0x3fff,
            );
            Ok((w, h))
        }
        b"VP8L" => {
            if b.get(20) != Some(&0x2f) {
                return Err(corrupt("WebP VP8L signature missing"));
            }
            let bits = u32::from_le_bytes(b.get(21..25).ok_or_else(short)?.try_into().unwrap());
            Ok(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
        }
        b"VP8X" => {
            let w = le24(b, 24).ok_or_else(short)? + 1;
            let h = le24(b, 27).ok_or_else(short)? + 1;
            Ok((w, h))
        }
        _ => Err(corrupt("unknown WebP chunk")),
    }
}

/// JPEG: walks the marker segments to the frame header (SOFn) for the dimensions, then
/// on through the entropy-coded data to the end-of-image marker, so that a truncated
/// file is refused before decoding. Data after EOI (e.g. a "motion photo" video) is
/// ignored.
fn jpeg_header(b: &[u8]) -> Result<(u32, u32), PhotoError> {
    let truncated = || corrupt("JPEG truncated (no end-of-image marker)");
    let mut dims: Option<(u32, u32)> = None;
    let mut pos = 2; // after SOI
    loop {
        // Expect a marker: one or more 0xFF fill bytes, then the marker code.
        if *b.get(pos).ok_or_else(truncated)? != 0xFF {
            return Err(corrupt("JPEG marker expected"));
        }
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *b.get(pos).ok_or_else(truncated)?;
        pos += 1;
        match marker {
            0xD9 => {
                // EOI
                return dims.ok_or_else(|| corrupt("JPEG without frame header"));
            }
            0x01 | 0xD0..=0xD8 => continue, // standalone markers
            _ => {}
        }
        let len = usize::from(be16(b, pos).ok_or_else(truncated)?);
        if len < 2 {
            return Err(corrupt("JPEG segment length invalid"));
        }
        let segment = b.get(pos + 2..pos + len).ok_or_else(truncated)?;
        pos += len;
        match marker {
            // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if dims.is_some() {
                    return Err(corrupt("JPEG with two frame headers"));
                }
                let h = be16(segment, 1).ok_or_else(|| corrupt("JPEG frame header short"))?;
                let w = be16(segment, 3).ok_or_else(|| corrupt("JPEG frame header short"))?;
                dims = Some((u32::from(w), u32::from(h)));
            }
            0xDA => {
                // SOS: skip entropy-coded data up to the next real marker. Inside it,
                // 0xFF is always followed by a 0x00 stuffing byte or a restart marker.
                if dims.is_none() {
                    return Err(corrupt("JPEG scan before frame header"));
                }
                loop {
                    let rel = b[pos..]
                        .iter()
                        .position(|&x| x == 0xFF)
                        .ok_or_else(truncated)?;
                    pos += rel;
                    match b.get(pos + 1) {
                        None => return Err(truncated()),
                        Some(0x00) | Some(0xD0..=0xD7) => pos += 2,
                        Some(0xFF) => pos += 1, // fill byte before a marker
                        Some(_) => break,
                    }
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pixels: flatten, resize, orient, encode.

/// Composites over white and drops alpha; converts grayscale and 16-bit to 8-bit RGB.
fn flatten_to_rgb(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for px in rgba.as_raw().chunks_exact(4) {
        let a = u32::from(px[3]);
        for &c in &px[..3] {
            // c·a + 255·(255 − a), divided by 255 with rounding.
            out.push(((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8);
        }
    }
    RgbImage::from_raw(w, h, out).expect("buffer sized for the image")
}

/// Like [`flatten_to_rgb`], to 8-bit grayscale.
fn flatten_to_gray(image: DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.into_luma8();
    }
    let la = image.into_luma_alpha8();
    let (w, h) = la.dimensions();
    let out = la
        .as_raw()
        .chunks_exact(2)
        .map(|px| {
            let (c, a) = (u32::from(px[0]), u32::from(px[1]));
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        })
        .collect();
    GrayImage::from_raw(w, h, out).expect("buffer sized for the image")
}

/// The largest size with the same aspect ratio that fits in `max_w`×`max_h`, never
/// larger than the original, never a zero side.
fn fit_within(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let (max_w, max_h) = (max_w.max(1), max_h.max(1));
    if w <= max_w && h <= max_h {
        return (w, h);
    }
    let scale = f64::min(
        f64::from(max_w) / f64::from(w),
        f64::from(max_h) / f64::from(h),
    );
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max_w);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max_h);
    (nw, nh)
}

fn resize_options() -> fr::ResizeOptions {
    fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
}

fn resize_err(e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Encode(format!("resize failed: {e}"))
}

fn resize_raw(
    src: &[u8],
    (w, h): (u32, u32),
    (tw, th): (u32, u32),
    pixel_type: fr::PixelType,
) -> Result<Vec<u8>, PhotoError> {
    let src = fr::images::ImageRef::new(w, h, src, pixel_type).map_err(resize_err)?;
    let mut dst = fr::images::Image::new(tw, th, pixel_type);
    fr::Resizer::new()
        .resize(&src, &mut dst, &resize_options())
        .map_err(resize_err)?;
    Ok(dst.into_vec())
}

fn resize_rgb(img: RgbImage, tw: u32, th: u32) -> Result<RgbImage, PhotoError> {
    if img.dimensions() == (tw, th) {
        return Ok(img);
    }
    resize_rgb_ref(&img, tw, th)
}

fn resize_rgb_ref(img: &RgbImage, tw: u32, th: u32) -> Result<RgbImage, PhotoError> {
    if img.dimensions() == (tw, th) {
        return Ok(img.clone());
    }
    let buf = resize_raw(
        img.as_raw(),
        img.dimensions(),
        (tw, th),
        fr::PixelType::U8x3,
    )?;
    Ok(RgbImage::from_raw(tw, th, buf).expect("resizer output sized for the image"))
}

fn resize_gray(img: GrayImage, tw: u32, th: u32) -> Result<GrayImage, PhotoError> {
    if img.dimensions() == (tw, th) {
        return Ok(img);
    }
    let buf = resize_raw(img.as_raw(), img.dimensions(), (tw, th), fr::PixelType::U8)?;
    Ok(GrayImage::from_raw(tw, th, buf).expect("resizer output sized for the image"))
}

fn orient_rgb(img: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return img;
    }
    let mut dynamic = DynamicImage::ImageRgb8(img);
    dynamic.apply_orientation(orientation);
    dynamic.into_rgb8()
}

/// Encodes `img` as JPEG within `budget` bytes whatever its content: at `quality`
/// first (one encode for an ordinary photo), then at lower qualities down to
/// `min_quality` — each step chosen from how far over the budget the last try was.
/// If even that is too large (noise, fine patterns), the image is made smaller, at
/// `min_quality`: by the square root of the size ratio (JPEG size follows the pixel
/// count) until it fits, then, when shrinking overshot (detail that shrinks away
/// compresses better), at most two halvings of the interval between the fitting and
/// the failing scale, so the kept photo is as large as the budget allows. Returns the
/// image as encoded and its bytes. Deterministic.
fn encode_within(
    img: RgbImage,
    quality: u8,
    min_quality: u8,
    budget: usize,
) -> Result<(RgbImage, Vec<u8>), PhotoError> {
    let min_quality = min_quality.min(quality);
    let mut q = quality;
    let mut bytes = encode_jpeg(&img, q)?;
    while bytes.len() > budget && q > min_quality {
        let over = bytes.len() as f64 / budget as f64;
        let step = if over > 2.0 {
            20
        } else if over > 1.3 {
            10
        } else {
            5
        };
        q = q.saturating_sub(step).max(min_quality);
        bytes = encode_jpeg(&img, q)?;
    }
    if bytes.len() <= budget {
        return Ok((img, bytes));
    }
    let (w, h) = img.dimensions();
    let shrunk = |scale: f64| -> Result<(RgbImage, Vec<u8>), PhotoError> {
        let (nw, nh) = (
            ((f64::from(w) * scale) as u32).max(1),
            ((f64::from(h) * scale) as u32).max(1),
        );
        let small = resize_rgb_ref(&img, nw, nh)?;
        let b = encode_jpeg(&small, min_quality)?;
        Ok((small, b))
    };
    let next_scale = |scale: f64, size: usize| {
        scale * ((budget as f64 / size as f64).sqrt() * 0.95).clamp(0.3, 0.9)
    };
    // Shrink until it fits.
    let (mut failing, mut scale) = (1.0, next_scale(1.0, bytes.len()));
    let (mut fit_scale, mut fit) = loop {
        let (small, b) = shrunk(scale)?;
        if b.len() <= budget || small.width().max(small.height()) <= 16 {
            break (scale, (small, b));
        }
        failing = scale;
        scale = next_scale(scale, b.len());
    };
    // Win back what the last step overshot.
    for _ in 0..2 {
        if fit.1.len() * 4 >= budget * 3 {
            break;
        }
        let mid = (fit_scale + failing) / 2.0;
        let (small, b) = shrunk(mid)?;
        if b.len() <= budget {
            fit_scale = mid;
            fit = (small, b);
        } else {
            failing = mid;
        }
    }
    Ok(fit)
}

/// Baseline JPEG with only the JFIF APP0 header: no EXIF, XMP or ICC segments.
fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::with_capacity(img.as_raw().len() / 8);
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_within_keeps_aspect_and_never_upscales() {
        assert_eq!(fit_within(4000, 3000, 1600, 1600), (1600, 1200));
        assert_eq!(fit_within(3000, 4000, 1600, 1600), (1200, 1600));
        assert_eq!(fit_within(800, 600, 1600, 1600), (800, 600));
        assert_eq!(fit_within(10000, 1, 1600, 1600), (1600, 1));
        assert_eq!(fit_within(1000, 300, 800, 400), (800, 240));
        assert_eq!(fit_within(300, 1000, 800, 400), (120, 400));
    }

    #[test]
    fn sniffs_only_the_three_formats() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(Format::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::WebP));
        assert_eq!(sniff(b"GIF89a......"), None);
        assert_eq!(sniff(b"\0\0\0\x18ftypheic"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn jpeg_walker_finds_frame_and_requires_eoi() {
        let img = RgbImage::from_pixel(33, 17, image::Rgb([10, 200, 30]));
        let jpeg = encode_jpeg(&img, 80).unwrap();
        assert_eq!(jpeg_header(&jpeg).unwrap(), (33, 17));
        // Trailing data after EOI (motion photos) is fine.
        let mut trailing = jpeg.clone();
        trailing.extend_from_slice(b"ftypmp42 trailing video");
        assert_eq!(jpeg_header(&trailing).unwrap(), (33, 17));
        // Any truncation is refused, never panics.
        for cut in 0..jpeg.len() - 1 {
            assert!(jpeg_header(&jpeg[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn error_codes_and_messages() {
        let e = PhotoError::TooLarge {
            bytes: 30 * MIB,
            limit: 25 * MIB,
        };
        assert_eq!(e.code(), "too_large");
        assert_eq!(e.zh(), "照片文件太大（超过 25 MB），请重新拍摄");
        assert_eq!(
            PhotoError::Corrupt("x".into()).zh(),
            "无法识别的图片文件，可能已损坏，请重新拍摄"
        );
        assert_eq!(sha256_hex(b"abc").len(), 64);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

/// Whether a processed signature has (almost) no ink: an empty canvas, or a tap. A
/// signature must be refused then, not kept as a white image.
pub fn signature_is_blank(sig: &ProcessedSignature) -> bool {
    let Ok(img) = image::load_from_memory_with_format(&sig.png, image::ImageFormat::Png) else {
        return true;
    };
    let gray = img.to_luma8();
    let ink = gray.pixels().filter(|p| p.0[0] < 160).count();
    // A written name leaves hundreds of dark pixels even small; a dot or a stray touch
    // leaves a handful.
    ink < 40
}
