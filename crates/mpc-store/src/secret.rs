//! Secret-holding types: zeroized on drop, redacted in `Debug`.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Result, StoreError};

/// A user passphrase. Never comes from a command-line argument: the caller
/// reads it from a prompt, `MPC_PASSPHRASE` or `MPC_PASSPHRASE_FILE`.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase; rejects the empty string.
    pub fn new(passphrase: impl Into<Zeroizing<String>>) -> Result<Self> {
        let passphrase = passphrase.into();
        if passphrase.is_empty() {
            return Err(StoreError::EmptyPassphrase);
        }
        Ok(Self(passphrase))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// The 256-bit AES key that encrypts one share file.
pub(crate) type DataKey = Zeroizing<[u8; 32]>;
