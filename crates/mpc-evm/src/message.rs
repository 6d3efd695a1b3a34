//! What can be signed: a transaction (as tx.json or as unsigned EIP-2718
//! bytes), an EIP-191 personal message, EIP-712 typed data or an EIP-7702
//! authorization. The co-signer receives a [`SignPayload`] and recomputes the
//! digest itself, so it never signs a digest it cannot explain.

use alloy::dyn_abi::TypedData;
use alloy::primitives::{eip191_hash_message, Bytes};
use serde::{Deserialize, Serialize};

use crate::authorization::AuthorizationRequest;
use crate::tx::{TxError, TxPolicy, TxRequest};

/// EIP-191 `personal_sign` digest: keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message).
pub fn personal_message_hash(message: &[u8]) -> [u8; 32] {
    eip191_hash_message(message).0
}

/// EIP-712 digest of a `eth_signTypedData_v4` JSON document
/// (`types`, `primaryType`, `domain`, `message`).
pub fn typed_data_hash(typed_data: &serde_json::Value) -> Result<[u8; 32], PayloadError> {
    parse_typed_data(typed_data)?
        .eip712_signing_hash()
        .map(|hash| hash.0)
        .map_err(|e| PayloadError::TypedData(e.to_string()))
}

fn parse_typed_data(typed_data: &serde_json::Value) -> Result<TypedData, PayloadError> {
    serde_json::from_value(typed_data.clone()).map_err(|e| PayloadError::TypedData(e.to_string()))
}

/// A domain that names a chain must name the wallet's: the same key signs on
/// every chain, so typed data for another (a mainnet `Permit` shown to a
/// Sepolia wallet) would be valid there.
fn check_typed_data_chain(
    typed_data: &serde_json::Value,
    policy: &TxPolicy,
) -> Result<(), PayloadError> {
    match parse_typed_data(typed_data)?.domain.chain_id {
        Some(chain) if chain != alloy::primitives::U256::from(policy.chain_id) => {
            Err(PayloadError::TypedDataChain {
                found: chain.to_string(),
                expected: policy.chain_id,
            })
        }
        _ => Ok(()),
    }
}

/// `v` for message signatures, as wallets and `ecrecover` expect: 27 or 28.
pub fn message_v(y_parity: bool) -> u64 {
    27 + y_parity as u64
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("invalid EIP-712 typed data: {0}")]
    TypedData(String),
    #[error(
        "the EIP-712 domain is for chain {found}, not this wallet's chain {expected}: a \
         signature would be valid there"
    )]
    TypedDataChain { found: String, expected: u64 },
    #[error(transparent)]
    Transaction(#[from] TxError),
}

/// Everything a signer needs to recompute the digest it is asked to sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum SignPayload {
    /// A transaction as canonical tx.json.
    Transaction(TxRequest),
    /// Raw message bytes (0x-hex in JSON), hashed with the EIP-191 prefix.
    PersonalMessage(Bytes),
    /// An `eth_signTypedData_v4` JSON document.
    TypedData(serde_json::Value),
    /// A transaction as its unsigned EIP-2718 bytes (a byte string in CBOR,
    /// 0x-hex in JSON), e.g. from an alloy signer. Deserializing decodes
    /// them ([`TxRequest::decode_unsigned`]), so a receiver sees the parsed
    /// fields, applies its policy to them and computes the digest from them.
    UnsignedTransaction(#[serde(with = "unsigned_tx_bytes")] TxRequest),
    /// An EIP-7702 authorization, signed on its own (auth.json).
    Authorization(AuthorizationRequest),
}

impl SignPayload {
    /// The transaction, whichever form it came in: validate and apply
    /// policy to it the same way for both.
    pub fn transaction(&self) -> Option<&TxRequest> {
        match self {
            SignPayload::Transaction(tx) | SignPayload::UnsignedTransaction(tx) => Some(tx),
            SignPayload::PersonalMessage(_)
            | SignPayload::TypedData(_)
            | SignPayload::Authorization(_) => None,
        }
    }

    /// Checks what `policy` covers: a transaction of either form
    /// ([`TxRequest::validate`]), an authorization's chain id and the chain a
    /// typed-data domain names, if it names one. Messages have nothing to check.
    pub fn validate(&self, policy: &TxPolicy) -> Result<(), PayloadError> {
        match self {
            SignPayload::Transaction(tx) | SignPayload::UnsignedTransaction(tx) => {
                Ok(tx.validate(policy)?)
            }
            SignPayload::Authorization(authorization) => Ok(authorization.validate(policy)?),
            SignPayload::TypedData(typed) => check_typed_data_chain(typed, policy),
            SignPayload::PersonalMessage(_) => Ok(()),
        }
    }

    /// The 32-byte digest to sign, computed from the payload itself.
    pub fn digest(&self) -> Result<[u8; 32], PayloadError> {
        match self {
            SignPayload::Transaction(tx) | SignPayload::UnsignedTransaction(tx) => {
                tx.check_shape()?;
                Ok(tx.signing_hash())
            }
            SignPayload::PersonalMessage(message) => Ok(personal_message_hash(message)),
            SignPayload::TypedData(typed) => typed_data_hash(typed),
            SignPayload::Authorization(authorization) => Ok(authorization.signing_hash()),
        }
    }

    /// The `v` that goes with a signature of this payload: the y parity for
    /// authorizations, as for typed transactions.
    pub fn v(&self, y_parity: bool) -> u64 {
        match self {
            SignPayload::Transaction(tx) | SignPayload::UnsignedTransaction(tx) => tx.v(y_parity),
            SignPayload::PersonalMessage(_) | SignPayload::TypedData(_) => message_v(y_parity),
            SignPayload::Authorization(_) => y_parity as u64,
        }
    }
}

/// Serde for [`SignPayload::UnsignedTransaction`]: the unsigned EIP-2718 bytes.
mod unsigned_tx_bytes {
    use alloy::primitives::Bytes;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::tx::TxRequest;

    pub(super) fn serialize<S: Serializer>(
        tx: &TxRequest,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        tx.encode_unsigned().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<TxRequest, D::Error> {
        let bytes = Bytes::deserialize(deserializer)?;
        TxRequest::decode_unsigned(&bytes).map_err(serde::de::Error::custom)
    }
}
