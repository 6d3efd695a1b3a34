use std::fmt;

use rand::RngCore;
use snow::params::DHChoice;
use snow::resolvers::{CryptoResolver, DefaultResolver};
use zeroize::Zeroizing;

use crate::{Fingerprint, SessionError};

/// A party's long-term X25519 static key for the Noise handshake. Peers pin
/// each other's [`public_key`](Identity::public_key); the private half never
/// appears in `Debug` output or logs.
pub struct Identity {
    private: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl Identity {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Identity, SessionError> {
        let mut private = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng
            .try_fill_bytes(&mut private[..])
            .map_err(|e| SessionError::Noise(format!("no randomness for a new identity: {e}")))?;
        Identity::from_bytes(&private)
    }

    /// Restores a key saved with [`to_bytes`](Identity::to_bytes).
    pub fn from_bytes(private: &[u8; 32]) -> Result<Identity, SessionError> {
        let mut dh = DefaultResolver
            .resolve_dh(&DHChoice::Curve25519)
            .ok_or_else(|| SessionError::Noise("X25519 is not available".into()))?;
        dh.set(private);
        let public = dh
            .pubkey()
            .try_into()
            .map_err(|_| SessionError::Noise("X25519 public key is not 32 bytes".into()))?;
        Ok(Identity {
            private: Zeroizing::new(*private),
            public,
        })
    }

    /// The private key, for the caller to store encrypted.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.private.clone()
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The public key's [`Fingerprint`], for people to compare.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.public)
    }

    pub(crate) fn private_key(&self) -> &[u8; 32] {
        &self.private
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("public_key", &hex::encode(self.public))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_bytes_and_hides_the_private_key() {
        let identity = Identity::generate().unwrap();
        let restored = Identity::from_bytes(&identity.to_bytes()).unwrap();
        assert_eq!(restored.public_key(), identity.public_key());
        assert_ne!(
            Identity::generate().unwrap().public_key(),
            identity.public_key()
        );

        let debug = format!("{identity:?}");
        assert!(debug.contains(&hex::encode(identity.public_key())));
        assert!(!debug.contains(&hex::encode(*identity.to_bytes())));
    }
}
