//! Signature images: decoded with limits (a corrupt or hostile PNG is an error, never a
//! panic or a huge allocation), trimmed to the strokes, scaled down to what a printed
//! box needs.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits, RgbaImage};

use crate::input::SignatureImage;
use crate::{PdfError, MAX_SIGNATURE_BYTES, MAX_SIGNATURE_SIDE};

/// The longest side kept after trimming: about 300 dpi over the printed box.
const KEEP_SIDE: u32 = 800;

/// A signature ready to place: RGBA pixels of the strokes with a small margin.
#[derive(Clone, Debug)]
pub(crate) struct Strokes {
    pub image: RgbaImage,
}

/// Decodes one signature image and trims it to its strokes.
pub(crate) fn prepare(sig: &SignatureImage) -> Result<Strokes, PdfError> {
    let too_large = |width, height| PdfError::SignatureTooLarge {
        role: sig.role,
        name: sig.signer_name.clone(),
        width,
        height,
        bytes: sig.png.len(),
        max_side: MAX_SIGNATURE_SIDE,
        max_bytes: MAX_SIGNATURE_BYTES,
    };
    let unreadable = |reason: String| PdfError::SignatureUnreadable {
        role: sig.role,
        name: sig.signer_name.clone(),
        reason,
    };
    if sig.png.len() > MAX_SIGNATURE_BYTES {
        return Err(too_large(0, 0));
    }
    let reader = || ImageReader::with_format(Cursor::new(&sig.png[..]), ImageFormat::Png);
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|e| unreadable(e.to_string()))?;
    if width > MAX_SIGNATURE_SIDE || height > MAX_SIGNATURE_SIDE {
        return Err(too_large(width, height));
    }
    if width == 0 || height == 0 {
        return Err(unreadable("the image has no pixels".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIGNATURE_SIDE);
    limits.max_image_height = Some(MAX_SIGNATURE_SIDE);
    // RGBA16 of the largest image allowed, with room for the decoder's own buffers.
    limits.max_alloc = Some(u64::from(MAX_SIGNATURE_SIDE).pow(2) * 8 * 2);
    let mut decoder = reader();
    decoder.limits(limits);
    let decoded = decoder.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(width, height),
        e => unreadable(e.to_string()),
    })?;
    let rgba = decoded.to_rgba8();
    Ok(Strokes {
        image: shrink(trim(rgba)),
    })
}

/// Is this pixel ink (not transparent, not paper-white)?
fn is_ink(p: &image::Rgba<u8>) -> bool {
    let [r, g, b, a] = p.0;
    a > 24 && (u16::from(r) + u16::from(g) + u16::from(b)) < 3 * 235
}

/// Crops to the strokes' bounding box plus a margin of 4% of its larger side; an image
/// without strokes is kept as it is (it prints blank, as it was signed).
fn trim(img: RgbaImage) -> RgbaImage {
    let (w, h) = img.dimensions();
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0u32, 0u32);
    for (x, y, p) in img.enumerate_pixels() {
        if is_ink(p) {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 || y0 > y1 {
        return img;
    }
    let margin = ((x1 - x0).max(y1 - y0) / 25).max(2);
    let x0 = x0.saturating_sub(margin);
    let y0 = y0.saturating_sub(margin);
    let x1 = (x1 + margin).min(w - 1);
    let y1 = (y1 + margin).min(h - 1);
    image::imageops::crop_imm(&img, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image()
}

/// Scales down so the longer side is at most [`KEEP_SIDE`] pixels.
fn shrink(img: RgbaImage) -> RgbaImage {
    let (w, h) = img.dimensions();
    let long = w.max(h);
    if long <= KEEP_SIDE {
        return img;
    }
    let scale = f64::from(KEEP_SIDE) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).max(1);
    let nh = ((f64::from(h) * scale).round() as u32).max(1);
    image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SignerRole;

    fn png(img: &RgbaImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn sig(bytes: Vec<u8>) -> SignatureImage {
        SignatureImage {
            role: SignerRole::Caregiver,
            signer_name: "王德福".into(),
            signed_at: String::new(),
            png: bytes,
        }
    }

    #[test]
    fn a_signature_is_trimmed_to_its_strokes() {
        // A 600×300 transparent pad with one stroke from (100,100) to (199,149).
        let mut img = RgbaImage::new(600, 300);
        for x in 100..200 {
            for y in 100..150 {
                img.put_pixel(x, y, image::Rgba([10, 10, 10, 255]));
            }
        }
        let s = prepare(&sig(png(&img))).unwrap();
        // 100×50 of ink plus a 3-pixel margin (4% of the ink's size) on each side.
        assert_eq!(s.image.dimensions(), (106, 56));
    }

    #[test]
    fn a_blank_signature_is_kept_as_it_is() {
        let img = RgbaImage::from_pixel(40, 20, image::Rgba([255, 255, 255, 255]));
        assert_eq!(
            prepare(&sig(png(&img))).unwrap().image.dimensions(),
            (40, 20)
        );
    }

    #[test]
    fn a_large_signature_is_scaled_down() {
        let img = RgbaImage::from_pixel(2000, 500, image::Rgba([0, 0, 0, 255]));
        assert_eq!(
            prepare(&sig(png(&img))).unwrap().image.dimensions(),
            (800, 200)
        );
    }

    #[test]
    fn a_corrupt_png_is_an_error_naming_the_signer() {
        let mut bytes = png(&RgbaImage::from_pixel(50, 50, image::Rgba([0, 0, 0, 255])));
        let e = prepare(&sig(b"not a png".to_vec())).unwrap_err();
        assert_eq!(e.code(), "signature_unreadable");
        assert!(e.zh().contains("乙方（受托照护人）王德福的签名图片已损坏"));
        // A valid header with its image data cut off.
        bytes.truncate(bytes.len() / 2);
        assert_eq!(
            prepare(&sig(bytes)).unwrap_err().code(),
            "signature_unreadable"
        );
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_png_claiming_huge_dimensions_is_refused_before_decoding() {
        // A valid header for a 60000×60000 image: decoding it would need 14 GB.
        let mut bytes = png(&RgbaImage::from_pixel(1, 1, image::Rgba([0, 0, 0, 255])));
        bytes[16..20].copy_from_slice(&60000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&60000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = prepare(&sig(bytes)).unwrap_err();
        assert_eq!(e.code(), "signature_too_large", "{e}");
        assert!(e.to_string().contains("60000×60000"));
    }
}
