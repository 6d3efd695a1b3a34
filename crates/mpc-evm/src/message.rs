//! What can be signed: a transaction, an EIP-191 personal message or EIP-712
//! typed data. The co-signer receives a [`SignPayload`] and recomputes the
//! digest itself, so it never signs a digest it cannot explain.

use alloy::dyn_abi::TypedData;
use alloy::primitives::{eip191_hash_message, Bytes};
use serde::{Deserialize, Serialize};

use crate::tx::{TxError, TxRequest};

/// EIP-191 `personal_sign` digest: keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message).
pub fn personal_message_hash(message: &[u8]) -> [u8; 32] {
    eip191_hash_message(message).0
}

/// EIP-712 digest of a `eth_signTypedData_v4` JSON document
/// (`types`, `primaryType`, `domain`, `message`).
pub fn typed_data_hash(typed_data: &serde_json::Value) -> Result<[u8; 32], PayloadError> {
    let typed: TypedData = serde_json::from_value(typed_data.clone())
        .map_err(|e| PayloadError::TypedData(e.to_string()))?;
    typed
        .eip712_signing_hash()
        .map(|hash| hash.0)
        .map_err(|e| PayloadError::TypedData(e.to_string()))
}

/// `v` for message signatures, as wallets and `ecrecover` expect: 27 or 28.
pub fn message_v(y_parity: bool) -> u64 {
    27 + y_parity as u64
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("invalid EIP-712 typed data: {0}")]
    TypedData(String),
    #[error(transparent)]
    Transaction(#[from] TxError),
}

/// Everything a signer needs to recompute the digest it is asked to sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum SignPayload {
    Transaction(TxRequest),
    /// Raw message bytes (0x-hex in JSON), hashed with the EIP-191 prefix.
    PersonalMessage(Bytes),
    /// An `eth_signTypedData_v4` JSON document.
    TypedData(serde_json::Value),
}

impl SignPayload {
    /// The 32-byte digest to sign, computed from the payload itself.
    pub fn digest(&self) -> Result<[u8; 32], PayloadError> {
        match self {
            SignPayload::Transaction(tx) => Ok(tx.signing_hash()),
            SignPayload::PersonalMessage(message) => Ok(personal_message_hash(message)),
            SignPayload::TypedData(typed) => typed_data_hash(typed),
        }
    }

    /// The `v` that goes with a signature of this payload.
    pub fn v(&self, y_parity: bool) -> u64 {
        match self {
            SignPayload::Transaction(tx) => tx.v(y_parity),
            SignPayload::PersonalMessage(_) | SignPayload::TypedData(_) => message_v(y_parity),
        }
    }
}
