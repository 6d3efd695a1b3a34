//! An active attacker on the channel (or a cheating peer): tampered,
//! substituted and malformed messages end in errors, never in a share or a
//! signature, and a DKLs23 ban surfaces as misbehaviour.

mod common;

use common::{both, context, keygen, keygen_over, recovered_address, sign, sign_over, Tamper};
use mpc_protocol::memory;
use mpc_protocol::rounds::{
    DKG_1, DKG_2, DKG_3, REFRESH_1, REFRESH_2, REFRESH_3, SIGN_1, SIGN_2, SIGN_3,
};
use mpc_protocol::{ChannelError, Dkls23, ErrorKind, ProtocolError, ThresholdSigner};

fn describe(result: &Result<impl Sized, ProtocolError>) -> String {
    match result {
        Ok(_) => "Ok".into(),
        Err(error) => format!("{error} (misbehaviour: {})", error.is_misbehaviour()),
    }
}

/// In 2-of-2 the DKG has no redundancy to check a polynomial evaluation
/// against (n = t), so a changed `dkg.1` value yields a different but
/// consistent key. Every other change must abort. Either way, no party may
/// end up with a share its peer does not match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_keygen_messages_never_yield_mismatched_shares() {
    for round in [DKG_1, DKG_2, DKG_3] {
        let (a, b) = memory::pair();
        let (client, cosigner) = keygen_over(Tamper::flip_byte(a, round), b).await;
        eprintln!(
            "{round}: client {}, cosigner {}",
            describe(&client),
            describe(&cosigner)
        );
        match (client, cosigner) {
            (Ok(client), Ok(cosigner)) => {
                assert_eq!(round, DKG_1);
                let (client, cosigner) = (client.into(), cosigner.into());
                let (signature, _) = sign(&client, &cosigner, "m", [5; 32]).await;
                assert_eq!(
                    recovered_address(&[5; 32], &signature.unwrap()),
                    client.address()
                );
            }
            (client, cosigner) => {
                assert!(client.is_err() && cosigner.is_err(), "{round}");
            }
        }
    }
}

/// The cosigner's outgoing messages are changed; the client, which must
/// get the signature, never gets a wrong one. Changing the OT-based
/// multiplication data is what DKLs23 bans the peer for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_signing_messages_never_yield_signatures() {
    let (client, cosigner) = keygen().await;
    let child = Dkls23
        .derive_public_key(&client, &"m/0/7".parse().unwrap())
        .unwrap();
    for round in [SIGN_1, SIGN_2, SIGN_3] {
        let (a, b) = memory::pair();
        let channels = (a, Tamper::flip_byte(b, round));
        let (from_client, from_cosigner) =
            sign_over((&client, &cosigner), "m/0/7", [9; 32], channels).await;
        eprintln!(
            "{round}: client {}, cosigner {}",
            describe(&from_client),
            describe(&from_cosigner)
        );
        let error = from_client.expect_err("the client must reject a tampered message");
        assert_eq!(error.round, round, "{error}");
        assert_eq!(error.is_misbehaviour(), round != SIGN_3, "{error}");
        // The cosigner received honest messages: if it finished, its
        // signature is the real one.
        if let Ok(signature) = from_cosigner {
            assert_eq!(round, SIGN_3);
            assert_eq!(recovered_address(&[9; 32], &signature), child.address());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_from_another_session_is_rejected() {
    let (client, cosigner) = keygen().await;
    let (a, b) = memory::pair();
    let (recorder, captured) = Tamper::record(a, SIGN_1);
    let (first, _) = sign_over((&client, &cosigner), "m", [1; 32], (recorder, b)).await;
    first.unwrap();

    let (a, b) = memory::pair();
    let replay = Tamper::substitute(a, SIGN_1, captured);
    let (from_client, from_cosigner) =
        sign_over((&client, &cosigner), "m", [1; 32], (replay, b)).await;
    let error = from_cosigner.expect_err("a replayed message must not be accepted");
    assert!(matches!(error.kind, ErrorKind::Aborted { .. }), "{error}");
    assert_eq!(error.round, SIGN_1);
    assert!(!error.is_misbehaviour());
    let error = from_client.unwrap_err();
    assert!(
        matches!(error.kind, ErrorKind::Channel(ChannelError::PeerAborted(_))),
        "{error}"
    );

    // Nothing was damaged: the same shares still sign.
    let (signature, _) = sign(&client, &cosigner, "m", [1; 32]).await;
    signature.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_is_retryable_and_stops_the_peer() {
    let (client, cosigner) = keygen().await;
    let (a, b) = memory::pair();
    let truncated = Tamper::new(a, SIGN_2, |payload| payload.truncate(payload.len() / 2));
    let (from_client, from_cosigner) =
        sign_over((&client, &cosigner), "m", [3; 32], (truncated, b)).await;
    let error = from_cosigner.unwrap_err();
    assert!(
        matches!(error.kind, ErrorKind::MalformedMessage { .. }),
        "{error}"
    );
    assert!(error.is_retryable() && !error.is_misbehaviour());
    assert_eq!(error.round, SIGN_2);
    let error = from_client.unwrap_err();
    assert!(
        matches!(&error.kind, ErrorKind::Channel(ChannelError::PeerAborted(reason)) if reason.contains("malformed")),
        "{error}"
    );
}

/// A changed refresh message aborts both sides, which keep their old,
/// still working shares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_refresh_messages_never_yield_shares() {
    let (client, cosigner) = keygen().await;
    for round in [REFRESH_1, REFRESH_2, REFRESH_3] {
        let (a, mut b) = memory::pair();
        let mut a = Tamper::flip_byte(a, round);
        let (share_a, share_b) = (client.clone(), cosigner.clone());
        let (from_client, from_cosigner) = both(
            async move { Dkls23.refresh(&share_a, &context("r"), &mut a).await },
            async move { Dkls23.refresh(&share_b, &context("r"), &mut b).await },
        )
        .await;
        eprintln!(
            "{round}: client {}, cosigner {}",
            describe(&from_client),
            describe(&from_cosigner)
        );
        assert!(from_client.is_err() && from_cosigner.is_err(), "{round}");
    }
    let (signature, _) = sign(&client, &cosigner, "m", [2; 32]).await;
    assert_eq!(
        recovered_address(&[2; 32], &signature.unwrap()),
        client.address()
    );
}
