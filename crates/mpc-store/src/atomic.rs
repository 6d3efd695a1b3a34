//! Crash-safe file replacement: write a 0600 temp file in the same directory,
//! fsync it, move it into place, fsync the directory.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::crypto;
use crate::error::{Result, StoreError};

/// Whether an existing file at the destination may be replaced (`--force`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    Refuse,
    Replace,
}

impl Overwrite {
    /// `Replace` when `force` is set: maps a `--force` flag.
    pub fn from_force(force: bool) -> Self {
        if force {
            Overwrite::Replace
        } else {
            Overwrite::Refuse
        }
    }
}

/// Prefix of in-flight temp files; readers and `FileStore::list` ignore them.
pub(crate) const TEMP_MARKER: &str = ".tmp.";

pub(crate) fn write_atomic(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<()> {
    write_atomic_with(path, overwrite, |file| file.write_all(bytes))
}

/// Either the whole new content is at `path` afterwards, or the old file (if
/// any) is untouched and no temp file is left behind.
pub(crate) fn write_atomic_with(
    path: &Path,
    overwrite: Overwrite,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<()> {
    if overwrite == Overwrite::Refuse && path.symlink_metadata().is_ok() {
        return Err(StoreError::AlreadyExists { path: path.into() });
    }
    let dir = parent_dir(path);
    let temp = temp_path(path);
    let result = write_temp(&temp, fill).and_then(|()| move_into_place(&temp, path, overwrite));
    if result.is_err() {
        // Best effort: the temp may not exist if creating it failed.
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    sync_dir(&dir)
}

/// Atomically renames `from` over `to` and makes the rename durable.
pub(crate) fn rename_durable(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| StoreError::io("rename into place", to, e))?;
    sync_dir(&parent_dir(to))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("fsync directory", dir, e))
}

fn write_temp(temp: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> Result<()> {
    // Created with 0600 from the start: the content is never readable by others.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .map_err(|e| StoreError::io("create temp file", temp, e))?;
    fill(&mut file).map_err(|e| StoreError::io("write temp file", temp, e))?;
    file.sync_all()
        .map_err(|e| StoreError::io("fsync temp file", temp, e))
}

fn move_into_place(temp: &Path, path: &Path, overwrite: Overwrite) -> Result<()> {
    match overwrite {
        Overwrite::Replace => {
            std::fs::rename(temp, path).map_err(|e| StoreError::io("rename into place", path, e))
        }
        // A hard link fails if the destination appeared meanwhile: no race
        // can make us replace a share we were told to keep.
        Overwrite::Refuse => {
            std::fs::hard_link(temp, path).map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => StoreError::AlreadyExists { path: path.into() },
                _ => StoreError::io("link into place", path, e),
            })?;
            std::fs::remove_file(temp).map_err(|e| StoreError::io("remove temp file", temp, e))
        }
    }
}

pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = hex::encode(crypto::random_bytes::<8>());
    parent_dir(path).join(format!(".{name}{TEMP_MARKER}{suffix}"))
}

/// Appends a suffix to the file name: `share.enc` -> `share.enc.next`.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(TEMP_MARKER))
            .collect()
    }

    #[test]
    fn failure_mid_write_keeps_old_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share.enc");
        write_atomic(&path, b"old content", Overwrite::Refuse).unwrap();

        let err = write_atomic_with(&path, Overwrite::Replace, |file| {
            file.write_all(b"half of the new")?;
            Err(io::Error::other("injected failure"))
        })
        .unwrap_err();

        assert!(
            matches!(
                err,
                StoreError::Io {
                    action: "write temp file",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"old content");
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
    }

    #[test]
    fn refuse_keeps_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share.enc");
        write_atomic(&path, b"first", Overwrite::Refuse).unwrap();
        let err = write_atomic(&path, b"second", Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        write_atomic(&path, b"third", Overwrite::Replace).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"third");
        assert!(leftovers(dir.path()).is_empty());
    }
}
