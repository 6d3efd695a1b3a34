//! 2-of-2 threshold ECDSA for EVM wallets, on DKLs23.
//!
//! [`Dkls23`] implements [`ThresholdSigner`]: key generation, signing at
//! non-hardened BIP-32 paths, and key refresh, each run by both parties over
//! a [`PeerChannel`]. Nothing here knows about the transport, files or
//! Ethereum beyond the address format.

pub mod channel;
mod context;
mod dkls;
mod error;
mod keys;
pub mod memory;
mod path;
pub mod rounds;
mod signature;
mod signer;
mod wire;

pub use channel::{ChannelError, Party, PeerChannel, Round};
pub use context::SessionContext;
pub use dkls::Dkls23;
pub use error::{ErrorKind, ProtocolError, Result};
pub use keys::{address, InvalidPublicKey, KeyShare, PublicKey, ShareError};
pub use path::{DerivationPath, PathError};
pub use signature::Signature;
pub use signer::ThresholdSigner;
