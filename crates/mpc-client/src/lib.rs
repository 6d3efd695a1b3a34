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
//!     // From the operator's `mpc-cosigner identity`: keygen trusts no other co-signer.
//!     .cosigner_key("6668:7aad:f862:bd77:6c8f:c18b:8e9f:8e20".parse()?)
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

mod backup;
mod connection;
mod embedded;
mod error;
mod instance;
mod share;
mod signer;
mod typed;
mod wallet;

pub use backup::{verify_backup, Backup, BackupInfo, Freshness};
pub use connection::{
    Broadcast, Connection, ConnectionBuilder, Health, KeygenOutcome, DEFAULT_CHAIN_ID,
};
pub use embedded::ObserverAccess;
pub use error::{Category, Error, Result};
pub use mpc_api::broadcast::{BroadcastResult, BroadcastStatus, Waiting};
pub use mpc_api::{PolicyRule, PolicyViolation, RejectionCode};
pub use mpc_session::{ExpectedKey, Fingerprint, Identity};
pub use mpc_store::{KeySource, Overwrite, Passphrase, ShareInfo};
pub use signer::MpcSigner;
pub use wallet::{typed_data_payload, Account, Rotated, Share, Signed, Wallet};

/// The bytes of a personal message given as text: `0x`-hex is the bytes it
/// spells, anything else is UTF-8.
pub fn personal_message_bytes(text: &str) -> Vec<u8> {
    match text.strip_prefix("0x").map(alloy::hex::decode) {
        Some(Ok(bytes)) => bytes,
        _ => text.as_bytes().to_vec(),
    }
}
