//! The seam between the wallet and a threshold ECDSA backend.

use std::future::Future;

use crate::channel::{Party, PeerChannel};
use crate::context::SessionContext;
use crate::error::Result;
use crate::keys::{KeyShare, PublicKey};
use crate::path::DerivationPath;
use crate::signature::Signature;

/// 2-of-2 threshold ECDSA over secp256k1. Each method is one party's side
/// of a run; the other party runs the same method with its own share over
/// the other end of the channel, with an equal [`SessionContext`].
///
/// On failure a method tells the peer through [`PeerChannel::abort`] and
/// returns the error only: never a partial share or an unverified signature.
pub trait ThresholdSigner: Send + Sync {
    /// Distributed key generation: returns this party's share.
    fn keygen<C: PeerChannel>(
        &self,
        party: Party,
        context: &SessionContext,
        channel: &mut C,
    ) -> impl Future<Output = Result<KeyShare>> + Send;

    /// Signs a 32-byte prehashed `digest` with the key at `path`
    /// (non-hardened; `m` for the master key). Both parties must sign the
    /// same digest at the same path. Both get the signature: low-S, with its
    /// y-parity, verified against the derived public key.
    fn sign<C: PeerChannel>(
        &self,
        share: &KeyShare,
        path: &DerivationPath,
        digest: [u8; 32],
        context: &SessionContext,
        channel: &mut C,
    ) -> impl Future<Output = Result<Signature>> + Send;

    /// Re-randomises both shares: same public key and chain code, and the
    /// new shares cannot sign with the old ones. Keep the old share until
    /// the new one is stored.
    fn refresh<C: PeerChannel>(
        &self,
        share: &KeyShare,
        context: &SessionContext,
        channel: &mut C,
    ) -> impl Future<Output = Result<KeyShare>> + Send;

    /// The public key at `path`, derived locally (BIP-32 public derivation).
    fn derive_public_key(&self, share: &KeyShare, path: &DerivationPath) -> Result<PublicKey>;
}
