//! One wallet as the fleet keeps it: a single KV value, so every change to
//! it (keygen confirmed, share staged or promoted, wallet locked) is one
//! compare-and-set on one revision. The shares inside stay sealed (AEAD
//! over wallet, party and version); the marks beside them are not secret.

use mpc_store::LockRecord;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletRecord {
    /// The current share container.
    pub current: ByteBuf,
    /// A refreshed share waiting for promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<ByteBuf>,
    /// Since when (Unix seconds) keygen waits for the client's confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed_since: Option<u64>,
    /// Set when a client misbehaved: no replica uses the wallet any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockRecord>,
}

impl WalletRecord {
    pub fn encode(&self) -> Vec<u8> {
        mpc_cbor::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<WalletRecord, mpc_cbor::DecodeError> {
        mpc_cbor::decode("wallet record", bytes)
    }

    /// Whether a completed session has something to settle.
    pub fn needs_settling(&self) -> bool {
        self.unconfirmed_since.is_some() || self.staged.is_some()
    }
}
