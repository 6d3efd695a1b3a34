//! A captured session request replayed to the co-signer is refused at once:
//! it would otherwise start a session no attacker can finish but that holds
//! the wallet busy until its round timeout.

mod support;

use std::time::Duration;

use futures::StreamExt;
use mpc_e2e::{Deployment, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_sign_request_is_refused_and_the_wallet_stays_usable() {
    let d = Deployment::start();
    let share = d.path("client_share.enc");
    let keygen = d.keygen("client_share.enc");
    let address = support::address(&keygen, "address");

    // An eavesdropper with the co-signer's credentials sees the requests.
    let spy = mpc_session::connect(&d.nats.url(Role::Cosigner))
        .await
        .unwrap();
    let mut requests = spy.subscribe("mpc.v1.cosigner.sign").await.unwrap();
    spy.flush().await.unwrap();

    let (signer, _) =
        tokio::task::block_in_place(|| support::sign_message(&d, &share, "first", &[]));
    assert_eq!(signer, address);
    let captured = tokio::time::timeout(Duration::from_secs(5), requests.next())
        .await
        .expect("the sign request was seen")
        .expect("subscription open");

    // Replayed as the client user, with the original headers and body.
    let attacker = mpc_session::connect(&d.nats.url(Role::Client))
        .await
        .unwrap();
    let reply = attacker
        .request_with_headers(
            "mpc.v1.cosigner.sign",
            captured.headers.clone().unwrap_or_default(),
            captured.payload.clone(),
        )
        .await
        .expect("the co-signer answers a replay at once");
    let logs_mention_replay = || d.cosigner.logs().contains("replayed session id");
    let code = mpc_api::RejectionCode::SessionReplayed.as_str().as_bytes();
    assert!(
        reply.payload.windows(code.len()).any(|w| w == code),
        "the refusal carries the session_replayed code"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !logs_mention_replay() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        logs_mention_replay(),
        "the co-signer logs the refused replay"
    );

    // The wallet is not held busy by the replay.
    let (signer, _) = tokio::task::block_in_place(|| {
        support::sign_message(&d, &share, "second", &["--timeout", "5"])
    });
    assert_eq!(signer, address);
}
