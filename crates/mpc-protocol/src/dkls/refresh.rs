//! DKLs23 key refresh (the fast variant: it re-randomises the reusable OT
//! state from fresh seeds instead of redoing the base OTs).

use dkls23::protocols::dkg::ProofCommitment;
use dkls23::protocols::refresh::{TransmitRefreshPhase2to4, TransmitRefreshPhase3to4};
use k256::{Scalar, Secp256k1};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{aborted, check_opening, confirm, position};
use crate::channel::PeerChannel;
use crate::context::{agree_session_id, SessionContext};
use crate::error::Result;
use crate::keys::KeyShare;
use crate::rounds::{REFRESH_1, REFRESH_2, REFRESH_3, REFRESH_CONFIRM, REFRESH_NONCE};
use crate::wire::Wire;

#[derive(Serialize, Deserialize)]
struct Round2 {
    /// Commitment to the proof revealed in round 3.
    proof_commitment: [u8; 32],
    zero_share: Vec<TransmitRefreshPhase2to4>,
}

#[derive(Serialize, Deserialize)]
struct Round3 {
    proof: ProofCommitment<Secp256k1>,
    zero_share: Vec<TransmitRefreshPhase3to4>,
}

pub(super) async fn run<C: PeerChannel>(
    wire: &mut Wire<'_, C>,
    share: &KeyShare,
    context: &SessionContext,
) -> Result<KeyShare> {
    let (me, peer) = (wire.party, wire.party.peer());
    let old = share.dkls23();
    let request = share.public_key().to_compressed();
    let refresh_id = agree_session_id(wire, REFRESH_NONCE, "refresh", &request, context).await?;

    let evaluations = Zeroizing::new(old.refresh_phase1());
    let theirs: Zeroizing<Scalar> = Zeroizing::new(
        wire.exchange(REFRESH_1, &evaluations[position(peer)])
            .await?,
    );
    let fragments = Zeroizing::new(vec![evaluations[position(me)], *theirs]);

    let (correction, proof, kept, zero_share) = old.refresh_phase2(&refresh_id, &fragments);
    let correction = Zeroizing::new(correction);
    let ours2 = Round2 {
        proof_commitment: proof.commitment,
        zero_share,
    };
    let theirs2: Round2 = wire.exchange(REFRESH_2, &ours2).await?;

    let (kept, zero_share) = old.refresh_phase3(&kept);
    let ours3 = Round3 { proof, zero_share };
    let theirs3: Round3 = wire.exchange(REFRESH_3, &ours3).await?;
    check_opening(
        wire,
        REFRESH_3,
        &theirs2.proof_commitment,
        &theirs3.proof.commitment,
    )?;

    let refreshed = old
        .refresh_phase4(
            &refresh_id,
            &correction,
            &[ours3.proof, theirs3.proof],
            &kept,
            &theirs2.zero_share,
            &theirs3.zero_share,
        )
        .map_err(aborted(wire, REFRESH_3))?;
    let share = KeyShare::new(me, refreshed);
    confirm(wire, REFRESH_CONFIRM, &share).await?;
    Ok(share)
}
