//! The co-signer's side of backups: the same portable, passphrase-encrypted
//! file as `mpc backup`, for one wallet's co-signer share. The backup
//! passphrase comes from `MPC_BACKUP_PASSPHRASE[_FILE]` (a service has no
//! terminal to prompt on).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use mpc_protocol::KeyShare;
use mpc_store::{FileStore, KeySource, Overwrite, Passphrase, ShareParty};

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Re-encrypt a wallet's share under the backup passphrase
    Export {
        #[arg(long)]
        wallet: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into the data dir, under this co-signer's key source
    Import {
        #[arg(long = "in")]
        input: PathBuf,
        /// Replace the wallet's current share
        #[arg(long)]
        force: bool,
        /// Restore even a backup older than the wallet's current share (it cannot sign)
        #[arg(long)]
        allow_stale: bool,
    },
    /// Decrypt a backup, check its share matches its public key and whether it
    /// is the wallet's current share version (exit 9 when stale); writes nothing
    Verify {
        #[arg(long = "in")]
        input: PathBuf,
    },
}

/// Runs a backup command and prints one JSON line. Blocking.
pub fn run(
    command: BackupCommand,
    wallets_dir: &Path,
    key_source: &KeySource,
) -> anyhow::Result<()> {
    let store = FileStore::open(wallets_dir, ShareParty::Cosigner)?;
    let backup_passphrase = mpc_store::backup_passphrase_from_env()?
        .context("set MPC_BACKUP_PASSPHRASE or MPC_BACKUP_PASSPHRASE_FILE")?;
    let share_passphrase = match key_source {
        KeySource::Passphrase(passphrase) => Some(passphrase),
        KeySource::Keyring(_) => None,
    };
    let result = match command {
        BackupCommand::Export { wallet, out } => {
            crate::warn_if_weak(
                "backup passphrase (MPC_BACKUP_PASSPHRASE or MPC_BACKUP_PASSPHRASE_FILE)",
                &backup_passphrase,
            );
            let info = mpc_store::export_backup(
                &store.share_path(&wallet)?,
                &out,
                share_passphrase,
                &backup_passphrase,
                Overwrite::Refuse,
            )?;
            serde_json::json!({"backup": out, "wallet_id": info.wallet_id, "share_version": info.share_version})
        }
        BackupCommand::Import {
            input,
            force,
            allow_stale,
        } => {
            if let Some(passphrase) = share_passphrase {
                crate::warn_if_weak(crate::SHARE_PASSPHRASE, passphrase);
            }
            let info = verify(&input, &backup_passphrase)?;
            let target = store.share_path(&info.wallet_id)?;
            if let Some(current) = current_version(&target)? {
                if !allow_stale && info.share_version < current {
                    return Err(stale(&info, current));
                }
            }
            mpc_store::import_backup(
                &input,
                &target,
                &backup_passphrase,
                key_source,
                Overwrite::from_force(force),
            )?;
            serde_json::json!({"share": target, "wallet_id": info.wallet_id, "share_version": info.share_version})
        }
        BackupCommand::Verify { input } => {
            let info = verify(&input, &backup_passphrase)?;
            let current = current_version(&store.share_path(&info.wallet_id)?)?;
            if let Some(current) = current.filter(|current| info.share_version < *current) {
                return Err(stale(&info, current));
            }
            serde_json::json!({
                "valid": true,
                "wallet_id": info.wallet_id,
                "public_key": info.public_key,
                "share_version": info.share_version,
                // null: this data dir does not hold the wallet, so nothing to compare with.
                "current": current.map(|_| true),
            })
        }
    };
    println!("{result}");
    Ok(())
}

/// The share version of the wallet's share in the data dir, if it holds one.
fn current_version(share_path: &Path) -> anyhow::Result<Option<u32>> {
    if !share_path.exists() {
        return Ok(None);
    }
    Ok(Some(mpc_store::read_info(share_path)?.share_version))
}

fn stale(info: &mpc_store::ShareInfo, current: u32) -> anyhow::Error {
    anyhow::Error::new(Stale).context(format!(
        "stale: wallet {} was rotated to share version {current}; this backup (version {}) \
         can no longer sign",
        info.wallet_id, info.share_version
    ))
}

/// Marks a refusal of a stale backup, for its own exit code.
#[derive(Debug, thiserror::Error)]
#[error("stale backup")]
pub struct Stale;

/// A co-signer backup whose share decodes and matches its header's public key.
fn verify(input: &Path, passphrase: &Passphrase) -> anyhow::Result<mpc_store::ShareInfo> {
    let info = mpc_store::verify_backup(input, passphrase, |info, bytes| {
        if info.party != ShareParty::Cosigner {
            return Err(format!(
                "this is a {} backup, not a co-signer one",
                info.party
            ));
        }
        let share = KeyShare::from_cbor(bytes).map_err(|e| e.to_string())?;
        if hex::encode(share.public_key().to_compressed()) != info.public_key {
            return Err("the share does not match the backup's public key".into());
        }
        Ok(())
    })?;
    Ok(info)
}
