//! A captured session request replayed to the co-signer is refused at once:
//! it would otherwise start a session no attacker can finish but that holds
//! the wallet busy until its round timeout.

mod support;

use std::time::Duration;

use alloy::primitives::Address;
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

/// Every `mpc.v1.cosigner.<op>` request published while `run` runs.
async fn record_requests(d: &Deployment, run: impl FnOnce()) -> Vec<async_nats::Message> {
    let spy = mpc_session::connect(&d.nats.url(Role::Cosigner))
        .await
        .unwrap();
    let mut requests = spy.subscribe("mpc.v1.cosigner.*").await.unwrap();
    spy.flush().await.unwrap();
    tokio::task::block_in_place(run);
    let mut recorded = Vec::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(500), requests.next()).await
    {
        // hello and health carry no session.
        if message
            .headers
            .as_ref()
            .is_some_and(|h| h.get("Mpc-Session").is_some())
        {
            recorded.push(message);
        }
    }
    recorded
}

/// Makes a wallet and signs with it while recording the requests; returns
/// its address and the keygen and sign requests.
async fn record_keygen_and_sign(d: &Deployment) -> (Address, Vec<async_nats::Message>) {
    let mut address = None;
    let recorded = record_requests(d, || {
        let keygen = d.keygen("client_share.enc");
        address = Some(support::address(&keygen, "address"));
        support::sign_message(d, &d.path("client_share.enc"), "recorded", &[]);
    })
    .await;
    (address.expect("keygen ran"), recorded)
}

/// Publishes a recorded request again, as the client user, and returns the reply.
async fn replay(d: &Deployment, recorded: &async_nats::Message) -> async_nats::Message {
    let attacker = mpc_session::connect(&d.nats.url(Role::Client))
        .await
        .unwrap();
    attacker
        .request_with_headers(
            recorded.subject.clone(),
            recorded.headers.clone().unwrap_or_default(),
            recorded.payload.clone(),
        )
        .await
        .expect("the co-signer answers a replay")
}

fn session_of(message: &async_nats::Message) -> String {
    message
        .headers
        .as_ref()
        .unwrap()
        .get("Mpc-Session")
        .unwrap()
        .to_string()
}

/// Waits until the co-signer's log past byte `from` has `needle` `count`
/// times, and returns that part.
async fn wait_for_log(d: &Deployment, from: usize, needle: &str, count: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let logs = d.cosigner.logs().split_off(from);
        if logs.matches(needle).count() >= count || std::time::Instant::now() > deadline {
            return logs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_recorded_before_a_restart_are_all_refused_after_it() {
    let mut d = Deployment::start();
    let share = d.path("client_share.enc");
    let (address, recorded) = record_keygen_and_sign(&d).await;
    let ops: Vec<&str> = recorded.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(ops, ["mpc.v1.cosigner.keygen", "mpc.v1.cosigner.sign"]);

    d.cosigner.kill();
    d.restart_cosigner();
    let restarted = d.cosigner.logs().len();
    let code = mpc_api::RejectionCode::SessionReplayed.as_str().as_bytes();
    for request in &recorded {
        let reply = replay(&d, request).await;
        assert!(
            reply.payload.windows(code.len()).any(|w| w == code),
            "{} after the restart: not refused as a replay",
            request.subject
        );
    }
    let logs = wait_for_log(&d, restarted, "refused a replayed session id", 2).await;
    for request in &recorded {
        let session = session_of(request);
        assert!(
            !logs
                .lines()
                .any(|l| l.contains(&session) && l.contains("session accepted")),
            "the restarted co-signer accepted replayed session {session}"
        );
    }
    assert_eq!(logs.matches("refused a replayed session id").count(), 2);
    // A legitimate sign right after is served, not refused as busy.
    let (signer, _) = tokio::task::block_in_place(|| {
        support::sign_message(&d, &share, "after the replays", &["--timeout", "5"])
    });
    assert_eq!(signer, address);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_older_than_the_freshness_window_is_refused_even_by_a_co_signer_that_forgot_it() {
    let mut d = Deployment::start_with_cosigner_args(&["--freshness-window", "1"]);
    let share = d.path("client_share.enc");
    let (address, recorded) = record_keygen_and_sign(&d).await;
    let sign = recorded.last().expect("the sign request was recorded");
    // A co-signer whose memory of session ids is gone still refuses it:
    // the request's authenticated timestamp is too old.
    d.cosigner.kill();
    std::fs::remove_file(d.cosigner_data().join("sessions.seen")).unwrap();
    d.restart_cosigner();
    let restarted = d.cosigner.logs().len();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = replay(&d, sign).await;
    let code = mpc_api::RejectionCode::SessionReplayed.as_str().as_bytes();
    assert!(
        !reply.payload.windows(code.len()).any(|w| w == code),
        "not known by id: the refusal comes from the timestamp check"
    );
    let logs = wait_for_log(&d, restarted, "outside the freshness window", 1).await;
    let session = session_of(sign);
    assert!(
        logs.lines()
            .any(|l| l.contains(&session) && l.contains("outside the freshness window")),
        "the replay of {session} is refused for its age:\n{logs}"
    );
    assert!(!logs
        .lines()
        .any(|l| l.contains(&session) && l.contains("session accepted")));
    let (signer, _) = tokio::task::block_in_place(|| {
        support::sign_message(&d, &share, "fresh", &["--timeout", "5"])
    });
    assert_eq!(signer, address);
}
