//! The share folder of `mpc serve`: the folder of its `--share`. Requests name
//! share files inside it only, so a caller holding the token can neither read
//! nor replace any other file on the machine.

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use axum::http::StatusCode;

use super::error::HttpError;

/// The longest file name the common file systems take.
const MAX_NAME_LEN: usize = 255;

/// Why a share name in a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRefusal {
    Empty,
    Nul,
    Absolute,
    /// `..`, `.` or a Windows prefix: anything but plain names.
    NotPlain,
    TooLong,
    /// Resolves (through a symlink) outside the share folder.
    Escapes,
    /// `out` is in a folder that does not exist.
    NoFolder,
    /// `out` names a directory, a symlink or another non-share file.
    NotAShare,
}

impl PathRefusal {
    fn code(self) -> &'static str {
        match self {
            PathRefusal::NoFolder => "share_folder_missing",
            PathRefusal::NotAShare => "not_a_share_file",
            _ => "invalid_share_path",
        }
    }
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathRefusal::Empty => "is empty",
            PathRefusal::Nul => "contains a NUL byte",
            PathRefusal::Absolute => "is absolute; name a file inside the share folder",
            PathRefusal::NotPlain => "may hold only plain names, no `..` or `.`",
            PathRefusal::TooLong => "has a name longer than 255 bytes",
            PathRefusal::Escapes => "resolves outside the share folder",
            PathRefusal::NoFolder => "is in a folder that does not exist",
            PathRefusal::NotAShare => "exists and is not a share file; only a share is replaced",
        })
    }
}

/// A refused name as the API's 400 (422 for an existing non-share file).
pub fn refused(name: &Path, why: PathRefusal) -> HttpError {
    let status = match why {
        PathRefusal::NotAShare => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_REQUEST,
    };
    HttpError::new(
        status,
        why.code(),
        format!("share path {:?} {why}", name.display().to_string()),
    )
}

/// The folder, canonical, that every share name is resolved in.
#[derive(Debug, Clone)]
pub struct ShareFolder {
    root: PathBuf,
}

impl ShareFolder {
    /// The folder of `share` (the current directory for a bare file name).
    pub fn of(share: &Path) -> io::Result<ShareFolder> {
        let parent = match share.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        Ok(ShareFolder {
            root: parent.canonicalize()?,
        })
    }

    /// The share `name` names, to read. A file that does not exist passes
    /// (reading it reports `share_not_found`); one that resolves outside does not.
    pub fn existing(&self, name: &Path) -> Result<PathBuf, PathRefusal> {
        let path = self.root.join(plain(name)?);
        match path.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => Ok(real),
            Ok(_) => Err(PathRefusal::Escapes),
            Err(_) => Ok(path),
        }
    }

    /// Where a new share named `name` goes: in an existing folder inside this
    /// one, and not over anything but a share file.
    pub fn target(&self, name: &Path) -> Result<PathBuf, PathRefusal> {
        let relative = plain(name)?;
        let file_name = relative.file_name().ok_or(PathRefusal::Empty)?;
        let folder = self
            .root
            .join(relative)
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| self.root.clone());
        let folder = folder.canonicalize().map_err(|_| PathRefusal::NoFolder)?;
        if !folder.starts_with(&self.root) {
            return Err(PathRefusal::Escapes);
        }
        if !folder.is_dir() {
            return Err(PathRefusal::NoFolder);
        }
        let path = folder.join(file_name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if !meta.is_file() => Err(PathRefusal::NotAShare),
            Ok(_) if mpc_store::read_info(&path).is_err() => Err(PathRefusal::NotAShare),
            _ => Ok(path),
        }
    }
}

/// `name` if it is a non-empty relative path of plain names.
fn plain(name: &Path) -> Result<&Path, PathRefusal> {
    let bytes = name.as_os_str().as_encoded_bytes();
    if bytes.is_empty() {
        return Err(PathRefusal::Empty);
    }
    if bytes.contains(&0) {
        return Err(PathRefusal::Nul);
    }
    if name.has_root() {
        return Err(PathRefusal::Absolute);
    }
    for component in name.components() {
        match component {
            Component::Normal(part) if part.len() > MAX_NAME_LEN => {
                return Err(PathRefusal::TooLong)
            }
            Component::Normal(_) => {}
            _ => return Err(PathRefusal::NotPlain),
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folder = ShareFolder::of(&dir.path().join("client_share.enc")).unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert_eq!(
            folder.existing(Path::new("a.enc")).unwrap(),
            root.join("a.enc")
        );
        for (name, why) in [
            ("", PathRefusal::Empty),
            ("a\0b", PathRefusal::Nul),
            ("/etc/passwd", PathRefusal::Absolute),
            ("../a.enc", PathRefusal::NotPlain),
            ("sub/../../a.enc", PathRefusal::NotPlain),
            ("./a.enc", PathRefusal::NotPlain),
        ] {
            assert_eq!(folder.existing(Path::new(name)), Err(why), "{name:?}");
            assert_eq!(folder.target(Path::new(name)), Err(why), "{name:?}");
        }
        let long = "x".repeat(256);
        assert_eq!(folder.target(Path::new(&long)), Err(PathRefusal::TooLong));
        assert_eq!(
            folder.target(Path::new("no/such/a.enc")),
            Err(PathRefusal::NoFolder)
        );
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        assert_eq!(
            folder.target(Path::new("notes.txt")),
            Err(PathRefusal::NotAShare)
        );
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(folder.target(Path::new("sub")), Err(PathRefusal::NotAShare));
        assert_eq!(
            folder.target(Path::new("sub/new.enc")).unwrap(),
            root.join("sub/new.enc")
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_folder_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("away")).unwrap();
        let folder = ShareFolder::of(&dir.path().join("client_share.enc")).unwrap();
        assert_eq!(
            folder.existing(Path::new("link")),
            Err(PathRefusal::Escapes)
        );
        assert_eq!(
            folder.target(Path::new("away/new.enc")),
            Err(PathRefusal::Escapes)
        );
        assert_eq!(
            folder.target(Path::new("link")),
            Err(PathRefusal::NotAShare)
        );
    }
}
