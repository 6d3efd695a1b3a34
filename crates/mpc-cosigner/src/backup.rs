//! The co-signer's side of backups: the same portable, passphrase-encrypted
//! file as `mpc backup`, for one wallet's co-signer share. The backup
//! passphrase comes from `MPC_BACKUP_PASSPHRASE[_FILE]` (a service has no
//! terminal to prompt on).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use mpc_protocol::KeyShare;
use mpc_store::{FileStore, KeySource, Overwrite, Passphrase, ShareParty};

/// Operator commands that work on the data dir instead of serving.
#[derive(Debug, Subcommand)]
pub enum Admin {
    /// Portable, passphrase-encrypted copies of a wallet's co-signer share
    #[command(subcommand)]
    Backup(BackupCommand),
}

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
    },
    /// Decrypt a backup and check its share matches its public key; writes nothing
    Verify {
        #[arg(long = "in")]
        input: PathBuf,
    },
}

/// Runs an operator command and prints one JSON line. Blocking.
pub fn run(admin: Admin, wallets_dir: &Path, key_source: &KeySource) -> anyhow::Result<()> {
    let Admin::Backup(command) = admin;
    let store = FileStore::open(wallets_dir, ShareParty::Cosigner)?;
    let backup_passphrase = mpc_store::backup_passphrase_from_env()?
        .context("set MPC_BACKUP_PASSPHRASE or MPC_BACKUP_PASSPHRASE_FILE")?;
    let share_passphrase = match key_source {
        KeySource::Passphrase(passphrase) => Some(passphrase),
        KeySource::Keyring(_) => None,
    };
    let result = match command {
        BackupCommand::Export { wallet, out } => {
            let info = mpc_store::export_backup(
                &store.share_path(&wallet)?,
                &out,
                share_passphrase,
                &backup_passphrase,
                Overwrite::Refuse,
            )?;
            serde_json::json!({"backup": out, "wallet_id": info.wallet_id, "share_version": info.share_version})
        }
        BackupCommand::Import { input, force } => {
            let info = verify(&input, &backup_passphrase)?;
            let target = store.share_path(&info.wallet_id)?;
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
            serde_json::json!({"valid": true, "wallet_id": info.wallet_id, "public_key": info.public_key})
        }
    };
    println!("{result}");
    Ok(())
}

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
