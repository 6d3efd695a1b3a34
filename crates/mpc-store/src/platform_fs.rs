//! The file-system calls that differ by platform, in one place: owner-only
//! modes and directory fsync are Unix notions.
//!
//! Elsewhere (Windows), a new file or directory takes the ACL it inherits from
//! its parent, which under the user's profile typically admits only that user
//! and the administrators; and directories are not fsynced, as std cannot open
//! one there and NTFS journals renames itself.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `path`, which must not exist, for writing; mode 0600 on Unix from
/// the first byte, so secrets are never readable by others, not even while
/// they are being written.
pub(crate) fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Creates `dir` and its missing parents; mode 0700 on Unix, so no other user
/// can list the wallets in it.
pub(crate) fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes a rename, link or removal in `dir` durable: on Unix it is only on
/// disk once the directory itself is fsynced.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// No-op: see the module documentation.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Which file a path names right now, to tell whether a share read earlier is
/// still the one on disk: every share write is a rename, so a replaced,
/// rotated or restored file has another identity (on Unix its inode), and in
/// any case another modification time or size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    #[cfg(unix)]
    inode: u64,
    len: u64,
    modified: std::time::SystemTime,
}

impl FileStamp {
    /// The stamp of the file at `path`. Take it before reading the file, so a
    /// change during the read makes a cache entry stale rather than wrong.
    pub fn of(path: &Path) -> io::Result<FileStamp> {
        let metadata = fs::metadata(path)?;
        Ok(FileStamp {
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&metadata),
            len: metadata.len(),
            modified: metadata.modified()?,
        })
    }
}
