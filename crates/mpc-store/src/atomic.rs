//! Crash-safe owner-only writes: write a 0600 temp file in the same directory,
//! fsync it, move it into place, fsync the directory. Every file of the store
//! is written this way, and other crates' secrets through [`write_private`].

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::crypto;
use crate::error::{Result, StoreError};
use crate::platform_fs;

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

/// Writes `bytes` to `path`, replacing any file there, so that a reader (or a
/// crash) never sees half a file: either the whole new content is at `path`
/// afterwards, or the old file is untouched. The content goes to a temp file
/// in the same directory that is created 0600 (it holds secrets: never
/// readable by others, not even while it is written), is fsynced, renamed over
/// `path`, and the directory is fsynced so that the rename survives a power
/// loss. Outside Unix the file takes the permissions it inherits from its
/// directory. Blocking.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes, Overwrite::Replace)
}

/// [`write_private`] that never replaces: fails with
/// [`StoreError::AlreadyExists`] when `path` exists, also when it appears
/// while the content is being written (the temp file is hard-linked into
/// place, which refuses an existing name). Of several processes creating the
/// same file at once exactly one succeeds, and the others can read its whole
/// content. Blocking.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes, Overwrite::Refuse)
}

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
    platform_fs::sync_dir(dir).map_err(|e| StoreError::io("fsync directory", dir, e))
}

fn write_temp(temp: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> Result<()> {
    let mut file = platform_fs::create_new_private(temp)
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
        write_private(&path, b"old content").unwrap();

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
    fn create_only_keeps_existing_file_and_replace_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share.enc");
        write_private_new(&path, b"first").unwrap();
        let err = write_private_new(&path, b"second").unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        write_private(&path, b"third").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"third");
        assert!(leftovers(dir.path()).is_empty());
    }
}
