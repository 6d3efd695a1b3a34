//! 2-of-2 DKLs23 signing of a prehashed digest, at an optional BIP-32 path.

use dkls23::protocols::signing::{Broadcast3to4, SignData, TransmitPhase1to2, TransmitPhase2to3};
use dkls23::secp256k1::compute_eth_address;
use dkls23::SignSession;
use k256::Secp256k1;

use super::{aborted, party_index};
use crate::channel::PeerChannel;
use crate::context::{agree_session_id, SessionContext};
use crate::error::{ErrorKind, Result};
use crate::keys::{KeyShare, PublicKey};
use crate::path::DerivationPath;
use crate::rounds::{SIGN_1, SIGN_2, SIGN_3, SIGN_DERIVE, SIGN_NONCE};
use crate::signature::Signature;
use crate::wire::Wire;

pub(super) async fn run<C: PeerChannel>(
    wire: &mut Wire<'_, C>,
    share: &KeyShare,
    path: &DerivationPath,
    digest: [u8; 32],
    context: &SessionContext,
) -> Result<Signature> {
    let derived;
    let signer = if path.is_master() {
        share.dkls23()
    } else {
        derived = share
            .dkls23()
            .derive_from_path(&path.to_string(), compute_eth_address)
            .map_err(|e| {
                wire.error(
                    SIGN_DERIVE,
                    ErrorKind::InvalidInput {
                        detail: format!("cannot derive {path}: {}", e.description),
                    },
                )
            })?;
        &derived
    };
    let public_key = PublicKey::from_affine(signer.pk).map_err(|e| {
        wire.error(
            SIGN_DERIVE,
            ErrorKind::InvalidInput {
                detail: e.to_string(),
            },
        )
    })?;

    // Both sides must mean the same key, path and digest.
    let request = [
        &public_key.to_compressed()[..],
        path.to_string().as_bytes(),
        &digest,
    ]
    .concat();
    let sign_id = agree_session_id(wire, SIGN_NONCE, "sign", &request, context).await?;
    let data = SignData {
        sign_id,
        counterparties: vec![party_index(wire.party.peer())],
        message_hash: digest,
    };

    let (mut session, ours1) = SignSession::new(signer, data).map_err(aborted(wire, SIGN_NONCE))?;
    let theirs1: Vec<TransmitPhase1to2> = wire.exchange(SIGN_1, &ours1).await?;
    let ours2 = session.phase2(&theirs1).map_err(aborted(wire, SIGN_1))?;
    let theirs2: Vec<TransmitPhase2to3<Secp256k1>> = wire.exchange(SIGN_2, &ours2).await?;
    let ours3 = session.phase3(&theirs2).map_err(aborted(wire, SIGN_2))?;
    let theirs3: Broadcast3to4<Secp256k1> = wire.exchange(SIGN_3, &ours3).await?;
    // Raw S: normalising (and flipping the parity) is Signature::from_raw's job.
    let raw = session
        .phase4(&[ours3, theirs3], false)
        .map_err(aborted(wire, SIGN_3))?;

    Signature::from_raw(raw.r, raw.s, raw.recovery_id, &digest, &public_key)
        .map_err(|detail| wire.error(SIGN_3, ErrorKind::SignatureInvalid { detail }))
}
