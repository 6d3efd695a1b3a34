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
