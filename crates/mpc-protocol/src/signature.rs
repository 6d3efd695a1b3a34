//! EVM-ready ECDSA signatures: low-S (EIP-2), with the y-parity that
//! recovers the signer, checked with k256 before anyone sees them.

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature as K256Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::keys::PublicKey;

/// A verified secp256k1 ECDSA signature over a 32-byte digest, with `s` in
/// the lower half of the curve order (EIP-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub r: [u8; 32],
    pub s: [u8; 32],
    /// Parity of the nonce point's y coordinate: the recovery id (0 or 1)
    /// and the `yParity` of typed EVM transactions.
    pub y_parity: bool,
}

impl Signature {
    /// The recovery id, 0 or 1.
    pub fn recovery_id(&self) -> u8 {
        u8::from(self.y_parity)
    }

    /// `r ‖ s ‖ recovery id` (65 bytes, last byte 0 or 1).
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut bytes = [0; 65];
        bytes[..32].copy_from_slice(&self.r);
        bytes[32..64].copy_from_slice(&self.s);
        bytes[64] = self.recovery_id();
        bytes
    }

    /// Normalises a raw DKLs23 signature to low S, flipping the parity when
    /// S is negated (the nonce point becomes its negation), and checks that
    /// it verifies and recovers to `public_key`. An error, never a
    /// signature, comes out of anything that does not check out.
    pub(crate) fn from_raw(
        r: [u8; 32],
        s: [u8; 32],
        recovery_id: u8,
        digest: &[u8; 32],
        public_key: &PublicKey,
    ) -> Result<Self, String> {
        let raw = K256Signature::from_scalars(r, s)
            .map_err(|_| "r or s is zero or not below the curve order".to_owned())?;
        let recovery_id = RecoveryId::from_byte(recovery_id)
            .ok_or_else(|| format!("recovery id {recovery_id} is out of range"))?;
        if recovery_id.is_x_reduced() {
            return Err("nonce point's x exceeds the curve order; EVM cannot express it".into());
        }
        let low = raw.normalize_s();
        let flipped = low != raw;
        let y_parity = recovery_id.is_y_odd() ^ flipped;

        let verifying_key = VerifyingKey::from_affine(*public_key.as_k256().as_affine())
            .map_err(|_| "public key is not usable for verification".to_owned())?;
        verifying_key
            .verify_prehash(digest, &low)
            .map_err(|_| "signature does not verify against the public key".to_owned())?;
        let recovered =
            VerifyingKey::recover_from_prehash(digest, &low, RecoveryId::new(y_parity, false))
                .map_err(|_| "public key recovery failed".to_owned())?;
        if recovered != verifying_key {
            return Err("recovery id does not recover the signer's public key".into());
        }

        let (r, s) = low.split_bytes();
        Ok(Signature {
            r: r.into(),
            s: s.into(),
            y_parity,
        })
    }
}
