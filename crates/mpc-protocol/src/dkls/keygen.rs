//! 2-of-2 DKLs23 distributed key generation.

use std::collections::BTreeMap;

use dkls23::protocols::dkg::{
    BroadcastDerivationPhase2to4, BroadcastDerivationPhase3to4, ProofCommitment,
    TransmitInitMulPhase3to4, TransmitInitZeroSharePhase2to4, TransmitInitZeroSharePhase3to4,
};
use dkls23::protocols::Parameters;
use dkls23::secp256k1::compute_eth_address;
use dkls23::DkgSession;
use k256::{Scalar, Secp256k1};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{aborted, check_opening, confirm, party_index, position};
use crate::channel::PeerChannel;
use crate::context::{agree_session_id, SessionContext};
use crate::error::Result;
use crate::keys::KeyShare;
use crate::rounds::{DKG_1, DKG_2, DKG_3, DKG_CONFIRM, DKG_NONCE};
use crate::wire::Wire;

#[derive(Serialize, Deserialize)]
struct Round2 {
    /// Commitment to the proof revealed in round 3.
    proof_commitment: [u8; 32],
    zero_share: Vec<TransmitInitZeroSharePhase2to4>,
    chain_code: BroadcastDerivationPhase2to4,
}

#[derive(Serialize, Deserialize)]
struct Round3 {
    proof: ProofCommitment<Secp256k1>,
    zero_share: Vec<TransmitInitZeroSharePhase3to4>,
    multiplication: Vec<TransmitInitMulPhase3to4<Secp256k1>>,
    chain_code: BroadcastDerivationPhase3to4,
}

pub(super) async fn run<C: PeerChannel>(
    wire: &mut Wire<'_, C>,
    context: &SessionContext,
) -> Result<KeyShare> {
    let (me, peer) = (wire.party, wire.party.peer());
    let session_id = agree_session_id(wire, DKG_NONCE, "dkg", &[], context).await?;
    let parameters = Parameters::new(2, 2).expect("2-of-2 is valid");
    let mut session = DkgSession::<Secp256k1>::new(parameters, party_index(me), session_id);

    let evaluations = Zeroizing::new(session.phase1());
    let theirs: Zeroizing<Scalar> =
        Zeroizing::new(wire.exchange(DKG_1, &evaluations[position(peer)]).await?);
    let fragments = Zeroizing::new(vec![evaluations[position(me)], *theirs]);

    let (proof, zero_share, chain_code) =
        session.phase2(&fragments).map_err(aborted(wire, DKG_1))?;
    let ours2 = Round2 {
        proof_commitment: proof.commitment,
        zero_share,
        chain_code,
    };
    let theirs2: Round2 = wire.exchange(DKG_2, &ours2).await?;

    let (zero_share, multiplication, chain_code) =
        session.phase3().map_err(aborted(wire, DKG_2))?;
    let ours3 = Round3 {
        proof,
        zero_share,
        multiplication,
        chain_code,
    };
    let theirs3: Round3 = wire.exchange(DKG_3, &ours3).await?;
    check_opening(
        wire,
        DKG_3,
        &theirs2.proof_commitment,
        &theirs3.proof.commitment,
    )?;

    let chain_code_commitments = BTreeMap::from([
        (party_index(me), ours2.chain_code),
        (party_index(peer), theirs2.chain_code),
    ]);
    let chain_code_openings = BTreeMap::from([
        (party_index(me), ours3.chain_code),
        (party_index(peer), theirs3.chain_code),
    ]);
    let (dkls23_party, _package) = session
        .phase4(
            &[ours3.proof, theirs3.proof],
            &theirs2.zero_share,
            &theirs3.zero_share,
            &theirs3.multiplication,
            &chain_code_commitments,
            &chain_code_openings,
            compute_eth_address,
        )
        .map_err(aborted(wire, DKG_3))?;
    // Phase 4 rejects the identity point (TrivialPublicKey), as KeyShare needs.
    let share = KeyShare::new(me, dkls23_party);
    confirm(wire, DKG_CONFIRM, &share).await?;
    Ok(share)
}
