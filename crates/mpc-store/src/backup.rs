//! Portable backups: the same container, `kind = backup`, always encrypted
//! with a backup passphrase (Argon2id) so it does not depend on any keyring.

use std::path::Path;

use crate::atomic::Overwrite;
use crate::error::{Result, StoreError};
use crate::format::{FileKind, ShareInfo};
use crate::keysource::KeySource;
use crate::secret::Passphrase;
use crate::share::{self, Expect, ShareMeta};

/// Re-encrypts the share at `share_path` under `backup_passphrase` into `out_path`.
/// `share_passphrase` is needed only for a passphrase-encrypted share.
pub fn export_backup(
    share_path: &Path,
    out_path: &Path,
    share_passphrase: Option<&Passphrase>,
    backup_passphrase: &Passphrase,
    overwrite: Overwrite,
) -> Result<ShareInfo> {
    let share = share::load_share(share_path, Expect::default(), share_passphrase)?;
    convert(
        &share,
        out_path,
        FileKind::Backup,
        &KeySource::Passphrase(backup_passphrase.clone()),
        overwrite,
    )
}

/// Restores a backup into a share file encrypted under `target`.
pub fn import_backup(
    in_path: &Path,
    out_path: &Path,
    backup_passphrase: &Passphrase,
    target: &KeySource,
    overwrite: Overwrite,
) -> Result<ShareInfo> {
    let backup = open_backup(in_path, backup_passphrase)?;
    convert(&backup, out_path, FileKind::Share, target, overwrite)
}

/// Decrypts a backup and lets `check` inspect the share bytes (e.g. derive the
/// public key and compare it with `info.public_key`). Writes nothing.
pub fn verify_backup(
    in_path: &Path,
    backup_passphrase: &Passphrase,
    check: impl FnOnce(&ShareInfo, &[u8]) -> Result<(), String>,
) -> Result<ShareInfo> {
    let backup = open_backup(in_path, backup_passphrase)?;
    check(&backup.info, &backup.plaintext)
        .map_err(|detail| StoreError::BackupCheckFailed { detail })?;
    Ok(backup.info)
}

fn open_backup(in_path: &Path, backup_passphrase: &Passphrase) -> Result<share::LoadedShare> {
    let (backup, _) = share::open_file(
        in_path,
        FileKind::Backup,
        Expect::default(),
        Some(backup_passphrase),
    )?;
    Ok(backup)
}

fn convert(
    from: &share::LoadedShare,
    out_path: &Path,
    kind: FileKind,
    source: &KeySource,
    overwrite: Overwrite,
) -> Result<ShareInfo> {
    let meta = ShareMeta {
        wallet_id: from.info.wallet_id.clone(),
        party: from.info.party,
        share_version: from.info.share_version,
        public_key: from.info.public_key.clone(),
        metadata: from.info.metadata.clone(),
    };
    share::write_new(out_path, kind, &meta, &from.plaintext, source, overwrite)
}
