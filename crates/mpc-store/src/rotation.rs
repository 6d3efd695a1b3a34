//! Two-phase share replacement for key refresh: stage `<share>.next`, then
//! promote it with one atomic rename. After a crash at any point, the current
//! file is either the old share or the new one, never a mix; a leftover
//! `.next` is reported by [`pending_next`] for the caller to promote or discard.

use std::path::{Path, PathBuf};

use crate::atomic::{self, Overwrite};
use crate::error::{Result, StoreError};
use crate::format::{FileKind, ShareInfo};
use crate::secret::Passphrase;
use crate::share::{self, Expect};

pub fn next_path(share_path: &Path) -> PathBuf {
    atomic::sibling(share_path, ".next")
}

/// Writes the refreshed share as `<share>.next`, under the same key and metadata
/// as the current file, with `new_version` (which must be greater). Unlocks the
/// current file to prove the key, so a passphrase file needs its passphrase.
/// Replaces a stale staged file.
pub fn stage_next(
    share_path: &Path,
    plaintext: &[u8],
    new_version: u32,
    passphrase: Option<&Passphrase>,
) -> Result<ShareInfo> {
    let (current, key) =
        share::open_file(share_path, FileKind::Share, Expect::default(), passphrase)?;
    let mut info = share::next_version(&current.info, new_version)?;
    share::write_with_key(
        &next_path(share_path),
        &mut info,
        &key,
        plaintext,
        Overwrite::Replace,
    )?;
    Ok(info)
}

/// The version of the staged share, if one is waiting.
pub fn pending_next(share_path: &Path) -> Result<Option<u32>> {
    match share::read_info(&next_path(share_path)) {
        Ok(info) => Ok(Some(info.share_version)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes the staged share current (atomic rename). Checks that it belongs to
/// the same wallet and party and is newer, after decrypting it: its header is
/// authenticated and it opens with the key, so a damaged or planted file never
/// replaces a working share. Blocking (Argon2id for a passphrase file).
pub fn promote_next(share_path: &Path, passphrase: Option<&Passphrase>) -> Result<ShareInfo> {
    let next = next_path(share_path);
    let current = share::read_info(share_path)?;
    let expect = Expect::party(current.party).wallet(&current.wallet_id);
    let staged = match share::open_file(&next, FileKind::Share, expect, passphrase) {
        Err(StoreError::NotFound { .. }) => return Err(StoreError::NoStagedShare { path: next }),
        other => other?.0.info,
    };
    let mismatch = |detail: String| StoreError::StagedMismatch {
        path: next.clone(),
        detail,
    };
    if (
        staged.kind,
        &staged.wallet_id,
        staged.party,
        &staged.public_key,
    ) != (
        current.kind,
        &current.wallet_id,
        current.party,
        &current.public_key,
    ) {
        return Err(mismatch("different wallet, party or public key".into()));
    }
    if staged.share_version <= current.share_version {
        return Err(mismatch(format!(
            "staged version {} is not newer than current version {}",
            staged.share_version, current.share_version
        )));
    }
    atomic::rename_durable(&next, share_path)?;
    Ok(staged)
}

/// Drops the staged share; `false` when none was staged.
pub fn discard_next(share_path: &Path) -> Result<bool> {
    let next = next_path(share_path);
    match std::fs::remove_file(&next) {
        Ok(()) => {
            atomic::sync_dir(&atomic::parent_dir(&next))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io("remove staged share", next, e)),
    }
}
