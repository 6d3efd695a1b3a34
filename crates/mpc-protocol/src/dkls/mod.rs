//! The DKLs23 backend (the `dkls23` crate) driven over a [`PeerChannel`].

mod keygen;
mod refresh;
mod sign;

use dkls23::protocols::{Abort, PartyIndex};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::channel::{Party, PeerChannel, Round};
use crate::context::SessionContext;
use crate::error::{ErrorKind, ProtocolError, Result};
use crate::keys::{KeyShare, PublicKey};
use crate::path::DerivationPath;
use crate::rounds;
use crate::signature::Signature;
use crate::signer::ThresholdSigner;
use crate::wire::Wire;

/// [`ThresholdSigner`] on DKLs23 (2-of-2, party indices 1 and 2).
#[derive(Debug, Clone, Copy, Default)]
pub struct Dkls23;

impl ThresholdSigner for Dkls23 {
    async fn keygen<C: PeerChannel>(
        &self,
        party: Party,
        context: &SessionContext,
        channel: &mut C,
    ) -> Result<KeyShare> {
        let mut wire = Wire::new(party, channel);
        let result = keygen::run(&mut wire, context).await;
        wire.finish(result).await
    }

    async fn sign<C: PeerChannel>(
        &self,
        share: &KeyShare,
        path: &DerivationPath,
        digest: [u8; 32],
        context: &SessionContext,
        channel: &mut C,
    ) -> Result<Signature> {
        let mut wire = Wire::new(share.party(), channel);
        let result = sign::run(&mut wire, share, path, digest, context).await;
        wire.finish(result).await
    }

    async fn refresh<C: PeerChannel>(
        &self,
        share: &KeyShare,
        context: &SessionContext,
        channel: &mut C,
    ) -> Result<KeyShare> {
        let mut wire = Wire::new(share.party(), channel);
        let result = refresh::run(&mut wire, share, context).await;
        wire.finish(result).await
    }

    fn derive_public_key(&self, share: &KeyShare, path: &DerivationPath) -> Result<PublicKey> {
        let fail = |detail: String| {
            ProtocolError::new(
                share.party(),
                rounds::DERIVE,
                ErrorKind::InvalidInput { detail },
            )
        };
        let derived = share
            .dkls23()
            .derivation_data
            .derive_from_path(&path.to_string())
            .map_err(|e| fail(format!("cannot derive {path}: {}", e.description)))?;
        PublicKey::from_affine(derived.pk).map_err(|e| fail(e.to_string()))
    }
}

fn party_index(party: Party) -> PartyIndex {
    PartyIndex::new(party.index()).expect("party indices are 1 and 2")
}

/// Position of `party`'s entry in DKLs23's per-party vectors.
fn position(party: Party) -> usize {
    usize::from(party.index() - 1)
}

/// Maps a DKLs23 abort while handling `round`.
fn aborted<C>(wire: &Wire<'_, C>, round: Round) -> impl FnOnce(Abort) -> ProtocolError {
    let party = wire.party;
    move |abort| ProtocolError::from_abort(party, round, abort)
}

/// The peer's full proof must open the commitment it sent a round earlier
/// (DKLs23 step 4: commit first, reveal once all commitments are in).
fn check_opening<C>(
    wire: &Wire<'_, C>,
    round: Round,
    committed: &[u8; 32],
    opened: &[u8; 32],
) -> Result<()> {
    if committed == opened {
        return Ok(());
    }
    Err(wire.error(
        round,
        ErrorKind::Aborted {
            reason: "the peer's key proof does not match its earlier commitment".into(),
        },
    ))
}

/// Final round of keygen and refresh: both sides hold the same new state.
#[derive(Serialize, Deserialize)]
struct Confirmation {
    digest: [u8; 32],
}

/// Exchanges a digest of the resulting public state (session id, public
/// key, chain code), so neither side keeps a share the other did not make.
async fn confirm<C: PeerChannel>(
    wire: &mut Wire<'_, C>,
    round: Round,
    share: &KeyShare,
) -> Result<()> {
    let mut hasher = Sha256::new();
    hasher.update(b"mpc-wallet/confirm/v1");
    hasher.update(&share.dkls23().session_id);
    hasher.update(share.public_key().to_compressed());
    hasher.update(share.chain_code());
    let ours = Confirmation {
        digest: hasher.finalize().into(),
    };
    let theirs: Confirmation = wire.exchange(round, &ours).await?;
    if theirs.digest != ours.digest {
        return Err(wire.error(
            round,
            ErrorKind::Aborted {
                reason: "the peer finished with a different key state; discard this result".into(),
            },
        ));
    }
    Ok(())
}
