//! An authenticated client can make the co-signer hold only so much. Large,
//! valid-looking messages for rounds not reached yet end the flooding
//! session once past its own byte budget (8 MiB) or the one all sessions
//! share (128 MiB); a session's first 256 KiB never count against the shared
//! one, so an honest session is served while floods hold the rest.

mod support;

use std::time::Duration;

use mpc_api::{KeygenRequest, PROTOCOL};
use mpc_e2e::{Deployment, Role};
use mpc_protocol::{ChannelError, PeerChannel, Round};
use mpc_session::{Identity, NatsPeerChannel, Op, SessionClient, SessionConfig, SessionId};
use zeroize::Zeroizing;

/// 24 sessions × 6 MiB is past the shared 128 MiB.
const SESSIONS: usize = 24;
const MESSAGE: usize = 3 << 20;
/// The co-signer's peak resident memory may not pass this: its start-up
/// size (~45 MiB), the shared budget and the messages in flight (measured:
/// ~270 MiB), well under the 405 MiB the flood would take unbounded.
const MAX_PEAK_RSS_KIB: u64 = 360 << 10;

/// Opens a keygen as a new client (the co-signer's enrollment is open): a
/// session that then waits for our first round.
async fn open_session(nats: mpc_session::Client, cosigner_pub: [u8; 32]) -> NatsPeerChannel {
    let client = SessionClient::new(
        nats,
        Identity::generate().unwrap(),
        SessionConfig::default(),
    );
    let request = KeygenRequest {
        wallet_id: SessionId::random().to_string(),
        protocol: PROTOCOL.to_owned(),
        enrollment_token: None,
    };
    let body = mpc_api::encode(&request);
    let (channel, _) = client
        .open(&cosigner_pub, &Op::Keygen, &SessionId::random(), &body)
        .await
        .expect("the co-signer accepts the keygen");
    channel
}

/// Sends an authentic 3 MiB message for a round the co-signer is not at,
/// paced so the co-signer (not the broker) is what limits the flood.
async fn flood(channel: &mut NatsPeerChannel, round: &'static str) {
    channel
        .send(Round(round), Zeroizing::new(vec![0x5a; MESSAGE]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
}

/// How the co-signer ended a session, as the flooder hears it.
async fn ending(channel: &mut NatsPeerChannel) -> ChannelError {
    channel
        .recv(Round("never"))
        .await
        .expect_err("the co-signer ends the session")
}

/// How many sessions the co-signer ended for passing the budget `limit` names.
fn ended(d: &Deployment, limit: &str) -> usize {
    d.cosigner
        .logs()
        .lines()
        .filter(|line| line.contains("peer exceeded the buffer budget") && line.contains(limit))
        .count()
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_clients_leave_the_cosigner_bounded_and_other_sessions_working() {
    // Flooded sessions wait for their first round for the whole test.
    let d = Deployment::start_with_cosigner_args(&["--round-timeout", "60"]);
    let share = d.path("client_share.enc");
    let keygen = tokio::task::block_in_place(|| d.keygen("client_share.enc"));
    let address = support::address(&keygen, "address");
    let nats = mpc_session::connect(&d.nats.url(Role::Client))
        .await
        .unwrap();
    let cosigner_pub = mpc_session::hello(&nats, Duration::from_secs(5))
        .await
        .unwrap();

    // Each session holds 6 MiB, under its own budget; together they pass the
    // shared one, so the last ones are ended.
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let mut channel = open_session(nats.clone(), cosigner_pub).await;
        flood(&mut channel, "flood.0").await;
        flood(&mut channel, "flood.1").await;
        sessions.push(channel);
    }
    let shared_limit = "past the all sessions' limit";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !d.cosigner.logs().contains(shared_limit) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended_for_all = ended(&d, shared_limit);
    assert!(
        (1..=SESSIONS - 16).contains(&ended_for_all),
        "{ended_for_all} sessions ended at the shared budget"
    );

    // With the shared budget full, an honest session is still served.
    let (signer, _) = tokio::task::block_in_place(|| {
        support::sign_message(&d, &share, "during the flood", &["--timeout", "10"])
    });
    assert_eq!(signer, address);

    // Every session sends three more: each still held passes its own budget
    // at the first. Unbounded, the co-signer would now hold 360 MiB.
    for channel in &mut sessions {
        for round in ["flood.2", "flood.3", "flood.4"] {
            flood(channel, round).await;
        }
    }
    let error = ending(&mut sessions[0]).await;
    assert!(
        matches!(&error, ChannelError::PeerAborted(reason) if reason.contains("too much data")),
        "{error:?}"
    );
    let ended_for_own = ended(&d, "past the session limit of 8388608 bytes");
    assert_eq!(
        ended_for_own + ended_for_all,
        SESSIONS,
        "every flood was ended"
    );

    let peak = peak_rss_kib(d.cosigner.pid());
    println!("co-signer peak RSS under the flood: {} MiB", peak >> 10);
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {} MiB is past {} MiB",
        peak >> 10,
        MAX_PEAK_RSS_KIB >> 10
    );
}
