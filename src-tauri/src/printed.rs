//! The family's printed copy of a signed care agreement, kept where the phone's owner
//! finds it.
//!
//! The device makes the PDF (`agreement_pdf`); a browser opens it from a blob, but an
//! app's webview neither opens blobs in new windows nor downloads them. So the shell
//! writes it into the user's Downloads folder (Documents, else the app's data folder,
//! when there is none) under its own name, never overwriting an earlier copy, and on a
//! desktop opens it in the system's PDF viewer, where it prints. This is the one file
//! the shell writes outside its data folder; the page names only the agreement, never
//! a path. The command is `commands::save_agreement_pdf`.

use base64::Engine;
use field_app::types::PdfFile;
use field_app::UserError;
use std::path::{Path, PathBuf};
use tauri::{AppHandle, Manager, Runtime};

/// The printed copy: the device's `PdfFile` and where it was saved (declared with
/// the one list of commands, so the UI's type is generated).
pub use field_app::types::SavedPdf;

/// Saves the device's PDF as a new file and (on a desktop) opens it for printing.
pub fn save<R: Runtime>(app: &AppHandle<R>, pdf: PdfFile) -> Result<SavedPdf, UserError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&pdf.pdf_base64)
        .map_err(internal)?;
    let path = save_new_file(&printed_folder(app)?, &pdf.file_name, &bytes)?;
    #[cfg(desktop)]
    open_in_viewer(&path);
    Ok(SavedPdf {
        file_name: pdf.file_name,
        pdf_base64: pdf.pdf_base64,
        path: path.display().to_string(),
    })
}

/// Downloads, else Documents, else the app's own data folder.
fn printed_folder<R: Runtime>(app: &AppHandle<R>) -> Result<PathBuf, UserError> {
    let paths = app.path();
    #[cfg(desktop)]
    let first = paths.download_dir().ok();
    #[cfg(mobile)]
    let first = None;
    first
        .or_else(|| paths.document_dir().ok())
        .or_else(|| paths.app_data_dir().ok().map(|d| d.join("printed")))
        .ok_or_else(|| {
            UserError::new(
                "no_folder",
                "找不到可以保存文件的文件夹",
                "no folder to save the file in",
            )
        })
}

/// Writes `bytes` as a new file named like `name` in `folder` (created if missing):
/// `name.pdf`, else `name (2).pdf`, … — a copy printed earlier is never replaced.
/// Path separators and control characters in the name are replaced.
pub fn save_new_file(folder: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, UserError> {
    std::fs::create_dir_all(folder).map_err(io)?;
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.');
    let stem = match clean.len().checked_sub(4) {
        Some(i) if clean.is_char_boundary(i) && clean[i..].eq_ignore_ascii_case(".pdf") => {
            &clean[..i]
        }
        _ => clean,
    };
    let (stem, ext) = (if stem.is_empty() { "agreement" } else { stem }, ".pdf");
    for n in 1..1000 {
        let file = if n == 1 {
            format!("{stem}{ext}")
        } else {
            format!("{stem} ({n}){ext}")
        };
        let path = folder.join(file);
        // create_new: two prints at once never write the same file.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| {
                    let _ = std::fs::remove_file(&path);
                    io(e)
                })?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other("too many copies with this name")))
}

/// Opens the file in the system's viewer, without waiting for it.
#[cfg(desktop)]
fn open_in_viewer(path: &Path) {
    #[cfg(target_os = "linux")]
    let mut cmd = std::process::Command::new("xdg-open");
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut cmd = {
        let mut c = std::process::Command::new("explorer");
        c.arg("/open,");
        c
    };
    cmd.arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // No viewer is not an error: the file is saved and its path shown.
    if let Ok(mut child) = cmd.spawn() {
        std::thread::spawn(move || child.wait());
    }
}

fn io(e: std::io::Error) -> UserError {
    UserError::new(
        "save_failed",
        "无法保存文件，请检查存储空间",
        format!("could not save the file: {e}"),
    )
}

pub(crate) fn internal(e: impl std::fmt::Display) -> UserError {
    UserError::new("internal", "应用内部出错，请重试", e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_print_never_replaces_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let a = save_new_file(dir, "委托照护协议-王小明-第1版.pdf", b"one").unwrap();
        let b = save_new_file(dir, "委托照护协议-王小明-第1版.pdf", b"two").unwrap();
        assert_eq!(a.file_name().unwrap(), "委托照护协议-王小明-第1版.pdf");
        assert_eq!(b.file_name().unwrap(), "委托照护协议-王小明-第1版 (2).pdf");
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
    }

    #[test]
    fn a_name_cannot_leave_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = save_new_file(dir.path(), "../../etc/passwd", b"x").unwrap();
        assert_eq!(p.parent().unwrap(), dir.path());
        assert_eq!(p.file_name().unwrap(), "_.._etc_passwd.pdf");
        let q = save_new_file(dir.path(), "", b"x").unwrap();
        assert_eq!(q.file_name().unwrap(), "agreement.pdf");
    }
}
