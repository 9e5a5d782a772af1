//! Writing a printout to disk: all or nothing, readable by its owner only.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Writes `pdf` to `path` atomically: into a temporary file in the same
/// folder (mode 0600 on Unix from its creation), flushed to disk, then
/// renamed over `path`, and the folder flushed so the rename survives a
/// power cut. A reader sees the old file or the whole new one, never part;
/// on failure nothing is left behind and an existing `path` is unchanged.
/// The written file has mode 0600 whatever the old one had.
pub fn write_pdf(path: &Path, pdf: &[u8]) -> io::Result<()> {
    write_private(path, pdf)
}

/// Any export holding patient data (a calendar, a CSV): written like a
/// printout, atomically and readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically(path, |file| file.write_all(bytes))
}

/// The atomic write with its content supplied by `fill` (the seam the tests
/// use to fail half-way).
pub(crate) fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // ".day.pdf.XXXXXX.part": hidden, and named after the file it becomes.
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    // Dropped on any error below, which deletes the temporary file.
    let mut temp = builder.tempfile_in(dir)?;
    fill(temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".part"))
            .collect()
    }

    #[test]
    fn a_failure_half_way_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("day.pdf");
        std::fs::write(&path, b"the old sheet").unwrap();
        let err = write_atomically(&path, |f| {
            f.write_all(b"%PDF-1.7 half of a new")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), b"the old sheet");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
        // And where there was no file, there still is none.
        let fresh = dir.path().join("new.pdf");
        write_atomically(&fresh, |_| Err(io::Error::other("disk full"))).unwrap_err();
        assert!(!fresh.exists());
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn the_temporary_file_is_in_the_same_folder_until_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sheet.pdf");
        write_atomically(&path, |f| {
            // Mid-write: the content is only in a hidden temporary file.
            assert!(!path.exists());
            assert_eq!(leftovers(dir.path()).len(), 1);
            assert!(leftovers(dir.path())[0].starts_with(".sheet.pdf."));
            f.write_all(b"%PDF")
        })
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"%PDF");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_pdf(Path::new("/"), b"%PDF").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
