//! Checking a signature against the wallet's address before anything uses it.

use alloy::primitives::{Address, Signature, B256};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("signature does not recover to any public key: {0}")]
    Unrecoverable(String),
    #[error("signature recovers to {recovered}, not the expected address {expected}")]
    WrongSigner {
        expected: Address,
        recovered: Address,
    },
}

/// The address whose key produced `signature` over `digest`.
pub fn recover_signer(digest: &[u8; 32], signature: &Signature) -> Result<Address, VerifyError> {
    signature
        .recover_address_from_prehash(&B256::from(*digest))
        .map_err(|e| VerifyError::Unrecoverable(e.to_string()))
}

/// Succeeds only if `signature` over `digest` was made by `expected`.
pub fn verify_signer(
    digest: &[u8; 32],
    signature: &Signature,
    expected: Address,
) -> Result<(), VerifyError> {
    let recovered = recover_signer(digest, signature)?;
    if recovered == expected {
        Ok(())
    } else {
        Err(VerifyError::WrongSigner {
            expected,
            recovered,
        })
    }
}
