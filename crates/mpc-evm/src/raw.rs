//! Signed raw transactions as received from users or the queue.

use alloy::consensus::transaction::SignerRecoverable;
use alloy::consensus::{Transaction, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{keccak256, Address, Bytes, B256};

#[derive(Debug, thiserror::Error)]
pub enum RawTxError {
    #[error("raw transaction is not hex: {0}")]
    NotHex(String),
    #[error("malformed raw transaction: {0}")]
    Malformed(String),
    #[error("raw transaction signature does not recover a sender: {0}")]
    BadSignature(String),
}

/// A decoded signed transaction: what the broadcaster needs to check and track it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTx {
    pub bytes: Bytes,
    pub tx_hash: B256,
    /// `None` for pre-EIP-155 legacy transactions, which any chain would replay.
    pub chain_id: Option<u64>,
    pub nonce: u64,
    pub from: Address,
    /// The most it pays per gas (the gas price of a legacy transaction): it
    /// cannot be mined while the base fee is above this.
    pub max_fee_per_gas: u128,
}

/// Reads `0x…` hex (surrounding whitespace, as in a file, is ignored).
pub fn parse_raw_tx_hex(text: &str) -> Result<Vec<u8>, RawTxError> {
    let text = text.trim();
    let hex = text.strip_prefix("0x").unwrap_or(text);
    if hex.is_empty() {
        return Err(RawTxError::NotHex(
            "it is empty: expected the 0x-hex of a signed transaction (the raw_tx of mpc sign)"
                .to_owned(),
        ));
    }
    alloy::hex::decode(hex).map_err(|e| RawTxError::NotHex(e.to_string()))
}

/// Decodes an EIP-2718 (or legacy RLP) signed transaction and recovers its sender.
pub fn decode_raw_tx(raw: &[u8]) -> Result<RawTx, RawTxError> {
    let envelope =
        TxEnvelope::decode_2718_exact(raw).map_err(|e| RawTxError::Malformed(e.to_string()))?;
    let from = envelope
        .recover_signer()
        .map_err(|e| RawTxError::BadSignature(e.to_string()))?;
    Ok(RawTx {
        bytes: Bytes::copy_from_slice(raw),
        tx_hash: *envelope.tx_hash(),
        chain_id: envelope.chain_id(),
        nonce: envelope.nonce(),
        from,
        max_fee_per_gas: envelope.max_fee_per_gas(),
    })
}

/// The hash a node would give these bytes: keccak256 of the EIP-2718 encoding.
/// Used to name results for input that does not even decode.
pub fn raw_tx_hash(raw: &[u8]) -> B256 {
    keccak256(raw)
}
