//! Public keys, EVM addresses, and one party's key share.

use std::fmt;

use dkls23::secp256k1::compute_eth_address;
use k256::elliptic_curve::sec1::ToSec1Point;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::channel::Party;

/// A secp256k1 public key (never the identity point).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(k256::PublicKey);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid SEC1-encoded secp256k1 public key")]
pub struct InvalidPublicKey;

impl PublicKey {
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self, InvalidPublicKey> {
        k256::PublicKey::from_sec1_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| InvalidPublicKey)
    }

    pub(crate) fn from_affine(point: k256::AffinePoint) -> Result<Self, InvalidPublicKey> {
        k256::PublicKey::from_affine(point)
            .map(PublicKey)
            .map_err(|_| InvalidPublicKey)
    }

    /// The 33-byte compressed SEC1 encoding.
    pub fn to_compressed(&self) -> [u8; 33] {
        let point = self.0.to_sec1_point(true);
        let mut bytes = [0; 33];
        bytes.copy_from_slice(point.as_bytes());
        bytes
    }

    /// The 65-byte uncompressed SEC1 encoding (`04 ‖ x ‖ y`).
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let point = self.0.to_sec1_point(false);
        let mut bytes = [0; 65];
        bytes.copy_from_slice(point.as_bytes());
        bytes
    }

    pub fn as_k256(&self) -> &k256::PublicKey {
        &self.0
    }

    /// The EIP-55 checksummed EVM address, `0x`-prefixed.
    pub fn address(&self) -> String {
        address(self)
    }
}

/// The EIP-55 checksummed EVM address of `public_key`, `0x`-prefixed:
/// the last 20 bytes of Keccak-256 of the uncompressed key.
pub fn address(public_key: &PublicKey) -> String {
    compute_eth_address(public_key.0.as_affine())
}

impl fmt::Display for PublicKey {
    /// Lower-case hex of the compressed encoding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.to_compressed()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// Version of [`KeyShare`]'s CBOR layout; bumped on any incompatible change.
const KEY_SHARE_VERSION: u8 = 1;

/// One party's share of the 2-of-2 key: its DKLs23 state, including the
/// secret share, the reusable OT correlations with the peer and the BIP-32
/// chain code.
///
/// The DKLs23 state zeroizes itself on drop. Persist it only through
/// [`KeyShare::to_cbor`], whose buffer is zeroized too. Not `Clone`, so
/// secret copies are only made on purpose.
#[derive(Serialize, Deserialize)]
pub struct KeyShare {
    version: u8,
    party: Party,
    dkls23: dkls23::secp256k1::Party,
}

/// Why stored share bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Malformed(#[from] mpc_cbor::DecodeError),
    #[error("key share format version {0} is not supported (expected {KEY_SHARE_VERSION})")]
    UnsupportedVersion(u8),
    #[error("key share is inconsistent: {0}")]
    Inconsistent(&'static str),
}

impl KeyShare {
    pub(crate) fn new(party: Party, dkls23: dkls23::secp256k1::Party) -> Self {
        KeyShare {
            version: KEY_SHARE_VERSION,
            party,
            dkls23,
        }
    }

    pub(crate) fn dkls23(&self) -> &dkls23::secp256k1::Party {
        &self.dkls23
    }

    pub fn party(&self) -> Party {
        self.party
    }

    /// The wallet's (master) public key; the same in both parties' shares.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_affine(self.dkls23.pk)
            .expect("checked when the share was made or loaded: never the identity")
    }

    /// The EIP-55 address of the master public key.
    pub fn address(&self) -> String {
        self.public_key().address()
    }

    /// The BIP-32 chain code, shared by both parties. Not secret, but with
    /// the public key it reveals every non-hardened child public key.
    pub fn chain_code(&self) -> [u8; 32] {
        *self.dkls23.chain_code()
    }

    /// The share as CBOR, in a buffer that is zeroized when dropped.
    pub fn to_cbor(&self) -> Zeroizing<Vec<u8>> {
        mpc_cbor::encode_secret(self)
    }

    /// Reads a share written by [`KeyShare::to_cbor`], checking that it is a
    /// 2-of-2 share whose index matches its party.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, ShareError> {
        let share: KeyShare = mpc_cbor::decode("key share", bytes)?;
        if share.version != KEY_SHARE_VERSION {
            return Err(ShareError::UnsupportedVersion(share.version));
        }
        let inner = &share.dkls23;
        if inner.party_index.as_u8() != share.party.index() {
            return Err(ShareError::Inconsistent(
                "DKLs23 party index does not match the party",
            ));
        }
        if inner.parameters.threshold != 2 || inner.parameters.share_count != 2 {
            return Err(ShareError::Inconsistent("not a 2-of-2 share"));
        }
        if PublicKey::from_affine(inner.pk).is_err() {
            return Err(ShareError::Inconsistent("public key is the identity point"));
        }
        Ok(share)
    }
}

impl fmt::Debug for KeyShare {
    /// Public parts only: never the secret share or OT state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyShare")
            .field("party", &self.party)
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}
