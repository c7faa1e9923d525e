//! Decompression bombs are refused from the header, *before* pixel memory is allocated.
//!
//! This binary installs a counting global allocator and holds a single test, so the
//! largest allocation seen while `process_photo` runs is the pipeline's own. (The
//! decoder's own `image::Limits` would also refuse these files, but only after setting
//! up a decoder; the point here is that our header check refuses them first.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use field_store::photo::{process_photo, process_signature, PhotoLimits};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = !0u32;
    for &b in kind.iter().chain(data) {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&(!crc).to_be_bytes());
    out
}

fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

/// A minimal JPEG: SOI, a baseline frame header declaring `w`×`h`, EOI.
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8];
    j.extend_from_slice(&h.to_be_bytes());
    j.extend_from_slice(&w.to_be_bytes());
    j.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

/// A WebP "VP8X" (extended) header declaring `w`×`h` (up to 2^24 per side).
fn webp_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut chunk = vec![0u8; 10];
    chunk[4..7].copy_from_slice(&(w - 1).to_le_bytes()[..3]);
    chunk[7..10].copy_from_slice(&(h - 1).to_le_bytes()[..3]);
    let mut riff = b"WEBPVP8X".to_vec();
    riff.extend_from_slice(&10u32.to_le_bytes());
    riff.extend_from_slice(&chunk);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(riff.len() as u32).to_le_bytes());
    out.extend(riff);
    out
}

#[test]
fn bombs_are_refused_without_allocating_pixel_memory() {
    let bombs = [
        ("png 100000x100000", png_declaring(100_000, 100_000)),
        ("png 10000x10000", png_declaring(10_000, 10_000)),
        ("jpeg 65000x65000", jpeg_declaring(65_000, 65_000)),
        ("jpeg 12001x100", jpeg_declaring(12_001, 100)),
        ("webp 1000000x1000000", webp_declaring(1_000_000, 1_000_000)),
    ];
    let limits = PhotoLimits::default();
    for (name, bomb) in bombs {
        assert!(bomb.len() < 100, "{name}: {} bytes", bomb.len());
        LARGEST.store(0, Ordering::SeqCst);
        let e = process_photo(&bomb, &limits).unwrap_err();
        let largest = LARGEST.load(Ordering::SeqCst);
        assert_eq!(e.code(), "too_many_pixels", "{name}: {e}");
        // A 1-megapixel RGB buffer alone would be 3 MB; we stay far below even that.
        assert!(
            largest < 64 * 1024,
            "{name}: largest allocation {largest} bytes"
        );

        LARGEST.store(0, Ordering::SeqCst);
        let e = process_signature(&bomb, &limits).unwrap_err();
        assert_eq!(e.code(), "too_many_pixels", "{name}: {e}");
        assert!(LARGEST.load(Ordering::SeqCst) < 64 * 1024, "{name}");
    }
}
