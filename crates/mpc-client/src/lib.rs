//! # mpc-client: the client side of the 2-of-2 MPC wallet
//!
//! One secp256k1 key is split between this client and a co-signer; every
//! signature needs both, and the whole key never exists anywhere. This crate
//! is what a Rust service adds to sign through the wallet:
//!
//! - [`Connection`]: the broker (and through it the co-signer and the
//!   broadcaster), built with [`Connection::builder`];
//! - [`Wallet`]: one client share, decrypted once, that signs transactions,
//!   personal messages, EIP-712 typed data and EIP-7702 authorizations, rotates
//!   its shares and exports backups;
//! - [`MpcSigner`]: a wallet account as an alloy `Signer` and `TxSigner`, for
//!   `EthereumWallet` and `ProviderBuilder::wallet`;
//! - [`Error`]: one error type, with the stable machine [`code`](Error::code)
//!   the CLI prints and a [`Category`] to branch on.
//!
//! ```no_run
//! # async fn run() -> mpc_client::Result<()> {
//! use mpc_client::{Account, Connection, KeySource, Overwrite, Passphrase};
//!
//! let connection = Connection::builder()
//!     .nats_url("nats://client:secret@127.0.0.1:4222")
//!     .connect()
//!     .await?;
//! let passphrase = Passphrase::new("a long passphrase nobody guesses".to_owned())?;
//! let (wallet, created) = connection
//!     .keygen(
//!         "client_share.enc".as_ref(),
//!         KeySource::Passphrase(passphrase),
//!         Overwrite::Refuse,
//!     )
//!     .await?;
//! assert_eq!(wallet.address(Account::Master)?, created.address);
//! let signed = wallet.sign_message(b"hello", Account::Master).await?;
//! println!("{} signed 0x{}", signed.from, alloy::hex::encode(signed.to_bytes()));
//! # Ok(()) }
//! ```
//!
//! Every signature is verified against the account's key before it is
//! returned; a co-signer caught misbehaving locks the wallet; a refusal only
//! changes local state when it came inside the authenticated session.
#![warn(missing_docs)]

mod connection;
mod embedded;
mod error;
mod share;
mod signer;
mod typed;
mod wallet;

use std::path::Path;

pub use connection::{
    Broadcast, BroadcastOutcome, Connection, ConnectionBuilder, Health, KeygenOutcome,
    DEFAULT_CHAIN_ID,
};
pub use error::{Category, Error, Result};
pub use mpc_api::RejectionCode;
pub use mpc_store::{KeySource, Overwrite, Passphrase, ShareInfo};
pub use signer::MpcSigner;
pub use wallet::{typed_data_payload, Account, Rotated, Share, Signed, Wallet};

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

/// Decrypts the backup at `path` and checks that it holds a usable client
/// share, without writing anything. Blocking (Argon2id).
pub fn verify_backup(path: &Path, backup_passphrase: &Passphrase) -> Result<BackupInfo> {
    let mut address = None;
    let info = mpc_store::verify_backup(path, backup_passphrase, |info, bytes| {
        let parsed = share::parse(path, info, bytes).map_err(|e| e.to_string())?;
        address = Some(wallet::address_of(&parsed.share.public_key()));
        Ok(())
    })?;
    let address = address.ok_or_else(|| Error::Internal("backup check did not run".to_owned()))?;
    Ok(BackupInfo {
        address,
        wallet_id: info.wallet_id,
        share_version: info.share_version,
    })
}

/// The bytes of a personal message given as text: `0x`-hex is the bytes it
/// spells, anything else is UTF-8.
pub fn personal_message_bytes(text: &str) -> Vec<u8> {
    match text.strip_prefix("0x").map(alloy::hex::decode) {
        Some(Ok(bytes)) => bytes,
        _ => text.as_bytes().to_vec(),
    }
}
