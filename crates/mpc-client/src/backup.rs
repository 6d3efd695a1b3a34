//! Client backups: decrypting one to check it, and asking the co-signer
//! whether it is still current. Every rotation makes earlier backups stale
//! (they hold the old share, which the co-signer no longer pairs with), so a
//! restore must know before it replaces anything.

use std::path::Path;

use mpc_api::StatusRequest;
use mpc_session::Op;

use crate::connection::{open, Connection};
use crate::error::{Error, Result};
use crate::share::{self, ClientShare};
use crate::wallet;
use crate::Passphrase;

/// What a backup holds, checked by decrypting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The wallet's master address.
    pub address: alloy::primitives::Address,
    /// The wallet's id.
    pub wallet_id: String,
    /// The share version the backup was taken at.
    pub share_version: u32,
}

/// A decrypted client backup, held in memory (its secrets are zeroized on
/// drop). Writes nothing.
pub struct Backup {
    share: ClientShare,
    info: BackupInfo,
}

impl std::fmt::Debug for Backup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backup").field("info", &self.info).finish()
    }
}

/// Whether a backup can still sign, as the co-signer answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The co-signer holds the backup's share version: it can sign.
    Current,
    /// The wallet was rotated since the backup was taken.
    Stale {
        /// The share version the co-signer holds.
        current_version: u32,
    },
}

impl Backup {
    /// Decrypts the backup at `path` and checks that it holds a usable
    /// client share. Blocking (Argon2id).
    pub fn read(path: &Path, backup_passphrase: &Passphrase) -> Result<Backup> {
        let mut parsed = None;
        let info = mpc_store::verify_backup(path, backup_passphrase, |info, bytes| {
            parsed = Some(share::parse(path, info, bytes).map_err(|e| e.to_string())?);
            Ok(())
        })?;
        let share = parsed.ok_or_else(|| Error::Internal("backup check did not run".to_owned()))?;
        let info = BackupInfo {
            address: wallet::address_of(&share.share.public_key()),
            wallet_id: info.wallet_id,
            share_version: info.share_version,
        };
        Ok(Backup { share, info })
    }

    /// What the backup holds.
    pub fn info(&self) -> &BackupInfo {
        &self.info
    }
}

/// Decrypts the backup at `path` and checks that it holds a usable client
/// share, without writing anything. Blocking (Argon2id).
pub fn verify_backup(path: &Path, backup_passphrase: &Passphrase) -> Result<BackupInfo> {
    Ok(Backup::read(path, backup_passphrase)?.info)
}

impl Connection {
    /// Asks the wallet's pinned co-signer, inside a session authenticated
    /// with the backup's own client identity, which share version it holds.
    pub async fn backup_freshness(&self, backup: &Backup) -> Result<Freshness> {
        let share = &backup.share;
        let request = StatusRequest {
            wallet_id: share.wallet_id.clone(),
        };
        let sessions = self.sessions(mpc_session::Identity::from_bytes(
            &share.identity.to_bytes(),
        )?);
        let (_, _, accepted) = open(&sessions, &share.cosigner_pub, &Op::Status, &request).await?;
        Ok(match accepted.share_version {
            current if current == share.version => Freshness::Current,
            current_version => Freshness::Stale { current_version },
        })
    }

    /// [`backup_freshness`](Self::backup_freshness), as an error when stale.
    pub async fn ensure_backup_current(&self, backup: &Backup) -> Result<()> {
        match self.backup_freshness(backup).await? {
            Freshness::Current => Ok(()),
            Freshness::Stale { current_version } => Err(Error::BackupStale {
                backup_version: backup.info.share_version,
                current_version,
            }),
        }
    }
}
