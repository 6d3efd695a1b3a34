//! Unsigned EIP-2718 transactions: the bytes whose keccak256 is the signing
//! digest, both directions, encoded and decoded by alloy.

use alloy::consensus::{SignableTransaction, TypedTransaction};
use alloy::eips::eip2718::Eip2718Error;
use alloy::primitives::{Bytes, Signature};

use crate::tx::{TxError, TxRequest, UnsignedTxError};

/// EIP-2718 type byte of blob transactions, refused before alloy reads one.
const BLOB_TX_TYPE: u8 = 0x03;

impl TxRequest {
    /// The unsigned EIP-2718 encoding: the type byte and the RLP of the
    /// fields for typed transactions; for legacy the RLP of the EIP-155
    /// signing form (the six fields, then chain id, 0, 0). Its keccak256 is
    /// [`TxRequest::signing_hash`].
    pub fn encode_unsigned(&self) -> Bytes {
        self.unsigned().encoded_for_signing().into()
    }

    /// Reads bytes made by [`TxRequest::encode_unsigned`] (or any encoder of
    /// unsigned EIP-2718 transactions) back into a request. Refuses trailing
    /// bytes, blob and unknown types, legacy without a chain id, and any
    /// non-canonical form: the bytes must be exactly the request's
    /// encoding, so their keccak256 is the request's signing hash. The
    /// request is not validated: call [`TxRequest::validate`].
    pub fn decode_unsigned(bytes: &[u8]) -> Result<TxRequest, TxError> {
        if bytes.first() == Some(&BLOB_TX_TYPE) {
            return Err(UnsignedTxError::Blob.into());
        }
        let mut rest = bytes;
        let typed = TypedTransaction::decode_unsigned(&mut rest).map_err(|e| match e {
            Eip2718Error::UnexpectedType(ty) => UnsignedTxError::UnknownType(ty),
            other => UnsignedTxError::Malformed(other.to_string()),
        })?;
        if !rest.is_empty() {
            return Err(UnsignedTxError::TrailingBytes(rest.len()).into());
        }
        let request = TxRequest::from_typed(typed)?;
        // alloy's legacy decoder is lenient (e.g. any values after the chain
        // id); only the canonical form is the one the digest commits to.
        if request.encode_unsigned()[..] != *bytes {
            return Err(UnsignedTxError::NonCanonical.into());
        }
        Ok(request)
    }

    /// The request for a transaction an alloy signer is asked to sign (as in
    /// `TxSigner::sign_transaction`), read from its signing encoding, so
    /// this request's [`TxRequest::signing_hash`] is exactly the
    /// `tx.signature_hash()` alloy would sign.
    pub fn from_signable(tx: &dyn SignableTransaction<Signature>) -> Result<TxRequest, TxError> {
        Self::decode_unsigned(&tx.encoded_for_signing())
    }
}
