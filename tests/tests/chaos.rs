//! A misbehaving network between the client and the broker, with the real
//! binaries: the `mpc` client dials the broker through a chaos proxy that
//! drops, duplicates, delays or flips a bit of one session message, in
//! either direction. A session must then complete with a signature that
//! recovers to the wallet, or fail with a clean JSON error within its
//! timeout, leaving both share files untouched; a retry must succeed. Also:
//! the broker killed mid-keygen, JetStream keeping a queued transaction over
//! a broker restart, and the co-signer under a flood of hostile messages.

mod support;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::{Provider, RootProvider};
use ciborium::Value as CborValue;
use mpc_e2e::{
    parse_failure, parse_success, Anvil, Deployment, Role, ANVIL_DEV_ADDRESS, SEPOLIA_CHAIN_ID,
};
use mpc_testkit::chaos::{ChaosProxy, ChaosRule, Direction, Fault};
use serde_json::{json, Value};
use support::{address, path_str, recover_personal};

/// The client's `--timeout` (seconds per round).
const CLIENT_TIMEOUT: u64 = 2;
/// The co-signer's `--round-timeout`: it outlives the client, so a client
/// that gives up first is the one that tells the other to stop.
const COSIGNER_TIMEOUT: u64 = 3;
/// Start-up, connection and scheduling on a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(3);
const SESSION_SUBJECTS: &str = "mpc.v1.session.";
/// The error codes of a session that broke down: clean failures under a fault.
const SESSION_ERRORS: [&str; 2] = ["session_failed", "cosigner_timeout"];
/// `mpc sign` exchanges four messages each way (nonce, sign.1, sign.2, sign.3).
const SIGN_MESSAGES: usize = 4;
/// `mpc keygen`: five each way (nonce, dkg.1-3, dkg.confirm), then the
/// co-signer's `keygen.saved`.
const KEYGEN_TO_COSIGNER: usize = 5;
const KEYGEN_TO_CLIENT: usize = 6;

use Direction::{FromBroker as ToClient, ToBroker as ToCosigner};

fn deployment() -> Deployment {
    Deployment::start_with_cosigner_args(&["--round-timeout", &COSIGNER_TIMEOUT.to_string()])
}

/// A wallet made by a clean keygen.
struct Wallet {
    share: PathBuf,
    cosigner_share: PathBuf,
    address: Address,
}

fn wallet(d: &Deployment) -> Wallet {
    let keygen = d.keygen("client_share.enc");
    Wallet {
        share: d.path("client_share.enc"),
        cosigner_share: d.cosigner_share(keygen["wallet_id"].as_str().unwrap()),
        address: address(&keygen, "address"),
    }
}

/// A proxy misbehaving on the `nth` session message travelling `direction`.
fn chaos(d: &Deployment, direction: Direction, nth: usize, fault: Fault, seed: u64) -> ChaosProxy {
    let rule = ChaosRule {
        subject_prefix: SESSION_SUBJECTS.into(),
        direction,
        nth,
        fault,
    };
    ChaosProxy::start(d.nats.port(), rule, seed)
}

/// The session the proxy's one fault hit, after checking there was one (a
/// fault never applied would prove nothing).
fn faulted_session(proxy: &ChaosProxy) -> String {
    let applied = proxy.applied();
    assert_eq!(applied.len(), 1, "the fault was applied once: {applied:?}");
    // mpc.v1.session.<sid>.<to>
    let session = applied[0].subject.split('.').nth(3).expect("session token");
    session.to_owned()
}

/// How a command run through the proxy ended, after the common checks.
#[derive(Debug)]
enum Outcome {
    Succeeded,
    Failed { code: String, stderr: String },
}

/// Runs `mpc <args> --timeout CLIENT_TIMEOUT --json` with the client dialling
/// through `proxy`; a failure must be a clean session/timeout error (exit 5)
/// within one round timeout.
fn run_through(
    d: &Deployment,
    proxy: &ChaosProxy,
    args: &[&str],
    clean: &[&str],
) -> (Output, Outcome) {
    let started = Instant::now();
    let output = d
        .mpc()
        .env("MPC_NATS_URL", proxy.url(&d.nats, Role::Client))
        .args(args)
        .args(["--timeout", &CLIENT_TIMEOUT.to_string(), "--json"])
        .output()
        .expect("run mpc");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(CLIENT_TIMEOUT) + SLACK,
        "mpc {args:?} ended within its timeout, took {elapsed:?}"
    );
    if output.status.success() {
        return (output, Outcome::Succeeded);
    }
    let (exit, error, stderr) = parse_failure(args, &output);
    let code = error["error"]["code"].as_str().expect("an error code");
    assert!(
        clean.contains(&code) && exit == 5,
        "a clean {clean:?} error, got exit {exit}: {error}"
    );
    let code = code.to_owned();
    (output, Outcome::Failed { code, stderr })
}

/// `mpc sign --message` through `proxy`: a success recovers to the wallet;
/// either way both share files are byte-identical afterwards.
fn sign_through(d: &Deployment, w: &Wallet, proxy: &ChaosProxy, message: &str) -> Outcome {
    sign_through_with(d, w, proxy, message, &SESSION_ERRORS)
}

/// Like `sign_through`, with the error codes that count as a clean failure.
fn sign_through_with(
    d: &Deployment,
    w: &Wallet,
    proxy: &ChaosProxy,
    message: &str,
    clean: &[&str],
) -> Outcome {
    let before = (read(&w.share), read(&w.cosigner_share));
    let args = ["sign", "--share", path_str(&w.share), "--message", message];
    let (output, outcome) = run_through(d, proxy, &args, clean);
    if let Outcome::Succeeded = outcome {
        let signed = parse_success(&args, &output);
        let signature = signed["signature"].as_str().expect("a signature");
        assert_eq!(recover_personal(message, signature), w.address);
    }
    assert!(
        before == (read(&w.share), read(&w.cosigner_share)),
        "share files changed by a sign under a fault ({outcome:?})"
    );
    outcome
}

/// `mpc keygen` through `proxy`: a success yields a share that signs for its
/// address; a failure leaves no client share.
fn keygen_through(d: &Deployment, proxy: &ChaosProxy, name: &str) -> Outcome {
    let out = d.path(name);
    let args = ["keygen", "--out", path_str(&out)];
    let (output, outcome) = run_through(d, proxy, &args, &SESSION_ERRORS);
    match &outcome {
        Outcome::Succeeded => {
            let keygen = parse_success(&["keygen"], &output);
            let w = Wallet {
                share: out,
                cosigner_share: d.cosigner_share(keygen["wallet_id"].as_str().unwrap()),
                address: address(&keygen, "address"),
            };
            sign_retrying(d, &w, "the new share works");
        }
        Outcome::Failed { .. } => assert!(!out.exists(), "no client share from a failed keygen"),
    }
    outcome
}

/// A clean `mpc sign` (no proxy) that must succeed; `cosigner_busy` is
/// retried for as long as the co-signer may still wait on an old session.
fn sign_retrying(d: &Deployment, w: &Wallet, message: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(COSIGNER_TIMEOUT) + SLACK;
    let args = ["sign", "--share", path_str(&w.share), "--message", message];
    let mut busy = 0;
    loop {
        let output = d.mpc().args(args).arg("--json").output().unwrap();
        if output.status.success() {
            let signed = parse_success(&args, &output);
            let signature = signed["signature"].as_str().unwrap();
            assert_eq!(recover_personal(message, signature), w.address);
            return busy;
        }
        let (_, error, _) = parse_failure(&args, &output);
        assert_eq!(
            error["error"]["code"], "cosigner_busy",
            "a retry fails: {error}"
        );
        assert!(Instant::now() < deadline, "the wallet stayed busy: {error}");
        busy += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `fields` of the JSON log lines about `session` with `message`.
fn log_events(logs: &str, session: &str, message: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|line| line["fields"].clone())
        .filter(|fields| fields["session"] == session && fields["message"] == message)
        .collect()
}

/// Asserts the receiving side logged a warning rejecting a message of
/// `session` for `reason` (a substring).
fn assert_rejected(logs: &str, session: &str, reason: &str) {
    let rejected = log_events(logs, session, "rejected inbound message");
    assert!(
        rejected.iter().any(|fields| fields["reason"]
            .as_str()
            .is_some_and(|r| r.contains(reason))),
        "no rejection ({reason}) of a message of session {session}: {rejected:?}"
    );
}

#[test]
fn a_dropped_sign_message_fails_cleanly_and_a_retry_succeeds() {
    let d = deployment();
    let w = wallet(&d);
    for (direction, nth) in [(ToClient, 1), (ToCosigner, 2), (ToClient, SIGN_MESSAGES)] {
        let proxy = chaos(&d, direction, nth, Fault::Drop, 0);
        let outcome = sign_through(&d, &w, &proxy, "dropped");
        assert!(
            matches!(outcome, Outcome::Failed { .. }),
            "{direction:?} #{nth} lost: {outcome:?}"
        );
        faulted_session(&proxy);
        sign_retrying(&d, &w, "retry after a drop");
    }
}

/// The client's own sign.3 is the one message nothing waits on at the
/// client: losing it still yields a correct signature, but the co-signer
/// waits a full round timeout for it, holding the wallet (see the report:
/// signs are refused as busy meanwhile). The next sign must get through
/// once the co-signer gives up.
#[test]
fn a_lost_final_client_message_still_signs_correctly_and_the_wallet_frees_up() {
    let d = deployment();
    let w = wallet(&d);
    let proxy = chaos(&d, ToCosigner, SIGN_MESSAGES, Fault::Drop, 0);
    let outcome = sign_through(&d, &w, &proxy, "last message lost");
    assert!(matches!(outcome, Outcome::Succeeded), "{outcome:?}");
    let session = faulted_session(&proxy);
    sign_retrying(&d, &w, "after the co-signer gave up");
    let timeouts = log_events(
        &d.cosigner.logs(),
        &session,
        "timed out waiting for the peer",
    );
    assert_eq!(
        timeouts.len(),
        1,
        "the co-signer waited for the lost sign.3"
    );
    assert_eq!(timeouts[0]["round"], "sign.3");
}

#[test]
fn a_dropped_keygen_message_fails_cleanly_without_a_client_share() {
    let d = deployment();
    for (i, (direction, nth)) in [
        (ToCosigner, 1),
        (ToClient, 3),
        (ToCosigner, KEYGEN_TO_COSIGNER),
        // keygen.saved: the co-signer stored its share, the client never hears it.
        (ToClient, KEYGEN_TO_CLIENT),
    ]
    .into_iter()
    .enumerate()
    {
        let proxy = chaos(&d, direction, nth, Fault::Drop, 0);
        let outcome = keygen_through(&d, &proxy, &format!("dropped-{i}.enc"));
        assert!(
            matches!(outcome, Outcome::Failed { .. }),
            "{direction:?} #{nth} lost: {outcome:?}"
        );
        faulted_session(&proxy);
    }
    let w = wallet(&d);
    sign_retrying(&d, &w, "a clean keygen after the failed ones");
}

#[test]
fn duplicated_session_messages_are_rejected_as_replays_and_sessions_complete() {
    let d = deployment();
    let w = wallet(&d);
    for direction in [ToCosigner, ToClient] {
        for nth in 1..=SIGN_MESSAGES {
            let proxy = chaos(&d, direction, nth, Fault::Duplicate, 0);
            let outcome = sign_through(&d, &w, &proxy, "duplicated");
            assert!(
                matches!(outcome, Outcome::Succeeded),
                "{direction:?} #{nth}: {outcome:?}"
            );
            let session = faulted_session(&proxy);
            // The copy of the last message arrives after the co-signer is done.
            if direction == ToCosigner && nth < SIGN_MESSAGES {
                assert_rejected(&d.cosigner.logs(), &session, "replay");
            }
        }
    }
    for (i, (direction, nth)) in [(ToCosigner, 2), (ToClient, 4)].into_iter().enumerate() {
        let proxy = chaos(&d, direction, nth, Fault::Duplicate, 0);
        let outcome = keygen_through(&d, &proxy, &format!("duplicated-{i}.enc"));
        assert!(matches!(outcome, Outcome::Succeeded), "{outcome:?}");
    }
}

#[test]
fn delayed_session_messages_complete_or_time_out_cleanly() {
    let d = deployment();
    let w = wallet(&d);
    let short = Fault::Delay(Duration::from_millis(400));
    for (direction, nth) in [
        (ToCosigner, 1),
        (ToClient, 2),
        (ToCosigner, 3),
        (ToClient, 4),
    ] {
        let proxy = chaos(&d, direction, nth, short, 0);
        let outcome = sign_through(&d, &w, &proxy, "delayed");
        assert!(matches!(outcome, Outcome::Succeeded), "{outcome:?}");
        faulted_session(&proxy);
    }
    let proxy = chaos(&d, ToClient, 3, short, 0);
    assert!(matches!(
        keygen_through(&d, &proxy, "delayed.enc"),
        Outcome::Succeeded
    ));

    // Held past the client's round timeout: a clean failure, then a retry.
    let long = Fault::Delay(Duration::from_secs(CLIENT_TIMEOUT + 1));
    let proxy = chaos(&d, ToClient, 2, long, 0);
    let outcome = sign_through(&d, &w, &proxy, "held too long");
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    sign_retrying(&d, &w, "retry after a long delay");
}

/// A bit flipped in the last 16 bytes of a message hits the AEAD tag of
/// its last Noise frame: the receiver must reject it as not authentic.
#[test]
fn a_flipped_bit_fails_authentication_on_either_side_and_never_signs() {
    let d = deployment();
    let w = wallet(&d);
    let flip = Fault::FlipBit { within_last: 16 };

    let proxy = chaos(&d, ToCosigner, 2, flip, 1);
    let outcome = sign_through(&d, &w, &proxy, "flipped to the co-signer");
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert_rejected(
        &d.cosigner.logs(),
        &faulted_session(&proxy),
        "failed authentication",
    );
    sign_retrying(&d, &w, "retry after a flip");

    let proxy = chaos(&d, ToClient, 3, flip, 2);
    let Outcome::Failed { stderr, .. } = sign_through(&d, &w, &proxy, "flipped to the client")
    else {
        panic!("a flipped message reached the client and it signed");
    };
    assert_rejected(&stderr, &faulted_session(&proxy), "failed authentication");
    sign_retrying(&d, &w, "retry after a flip");

    let proxy = chaos(&d, ToCosigner, 3, flip, 3);
    let outcome = keygen_through(&d, &proxy, "flipped.enc");
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert_rejected(
        &d.cosigner.logs(),
        &faulted_session(&proxy),
        "failed authentication",
    );
}

/// A bit flipped anywhere in the payload (envelope, routing facts or
/// ciphertext, chosen by the seed) is rejected one way or another.
#[test]
fn a_bit_flipped_anywhere_is_rejected() {
    let d = deployment();
    let w = wallet(&d);
    let anywhere = Fault::FlipBit {
        within_last: usize::MAX,
    };
    for seed in 0..4u64 {
        let nth = 1 + seed as usize % (SIGN_MESSAGES - 1);
        let proxy = chaos(&d, ToCosigner, nth, anywhere, seed);
        let outcome = sign_through(&d, &w, &proxy, "flipped anywhere");
        assert!(
            matches!(outcome, Outcome::Failed { .. }),
            "seed {seed}: {outcome:?}"
        );
        assert_rejected(&d.cosigner.logs(), &faulted_session(&proxy), "");
        sign_retrying(&d, &w, "retry after a flip");
    }
}

/// Waits until `condition` holds, for at most `limit`.
fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn healthy(d: &Deployment) -> bool {
    let output = d.mpc().args(["health", "--json"]).output().unwrap();
    output.status.success()
}

#[test]
fn the_broker_killed_mid_keygen_fails_the_client_cleanly_and_the_cosigner_recovers() {
    let mut d = deployment();
    // Holding back the co-signer's dkg.2 pins the session mid-protocol.
    let proxy = chaos(&d, ToClient, 3, Fault::Delay(Duration::from_secs(30)), 0);
    let out = d.path("client_share.enc");
    let started = Instant::now();
    let keygen = d
        .mpc()
        .env("MPC_NATS_URL", proxy.url(&d.nats, Role::Client))
        .args(["keygen", "--out", path_str(&out), "--json"])
        .args(["--timeout", &CLIENT_TIMEOUT.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mpc keygen");
    wait_until(Duration::from_secs(10), "the keygen's dkg.2", || {
        !proxy.applied().is_empty()
    });
    d.nats.kill();
    let output = keygen.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    let (exit, error, _) = parse_failure(&["keygen"], &output);
    let code = error["error"]["code"].as_str().unwrap();
    assert!(
        exit == 5 && ["session_failed", "cosigner_timeout"].contains(&code),
        "a clean failure, got exit {exit}: {error}"
    );
    // With no broker the client's best-effort abort waits out its flush
    // (the 5 s request timeout) after the round timed out: see the report.
    let abort_flush = Duration::from_secs(5);
    assert!(
        elapsed < Duration::from_secs(CLIENT_TIMEOUT) + abort_flush + SLACK,
        "failed within the timeout and the abort flush, took {elapsed:?}"
    );
    assert!(!out.exists(), "no client share from a failed keygen");

    d.nats.start_again();
    wait_until(
        Duration::from_secs(15),
        "the co-signer to reconnect",
        || healthy(&d),
    );
    assert!(d.cosigner.is_running(), "{}", d.cosigner.logs());
    let w = wallet(&d);
    sign_retrying(&d, &w, "after the broker came back");
}

const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";

/// The node, read and funded directly with anvil's unlocked dev account.
struct Node {
    runtime: tokio::runtime::Runtime,
    provider: RootProvider,
}

impl Node {
    fn connect(anvil: &Anvil) -> Node {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let provider = RootProvider::new_http(anvil.url().parse().unwrap());
        Node { runtime, provider }
    }

    fn fund(&self, to: Address, wei: u128) {
        let tx = json!({"from": ANVIL_DEV_ADDRESS, "to": to, "value": format!("{wei:#x}")});
        let hash: B256 = self
            .runtime
            .block_on(
                self.provider
                    .raw_request("eth_sendTransaction".into(), (tx,)),
            )
            .expect("fund from the dev account");
        self.receipt(hash, Duration::from_secs(10));
    }

    /// The receipt of `hash` (as JSON), waiting up to `limit` for it.
    fn receipt(&self, hash: B256, limit: Duration) -> Value {
        let mut receipt = Value::Null;
        wait_until(limit, "the receipt", || {
            receipt = self
                .runtime
                .block_on(
                    self.provider
                        .raw_request("eth_getTransactionReceipt".into(), (hash,)),
                )
                .unwrap();
            !receipt.is_null()
        });
        receipt
    }

    fn nonce(&self, owner: Address) -> u64 {
        let count = self.provider.get_transaction_count(owner);
        self.runtime.block_on(async { count.await }).unwrap()
    }

    fn balance(&self, owner: Address) -> U256 {
        let balance = self.provider.get_balance(owner);
        self.runtime.block_on(async { balance.await }).unwrap()
    }
}

#[test]
fn a_queued_transaction_survives_a_broker_restart_and_is_mined_once() {
    let anvil = Anvil::start();
    let node = Node::connect(&anvil);
    let mut d = deployment();
    let w = wallet(&d);
    node.fund(w.address, 1_000_000_000_000_000_000);
    let tx = d.path("tx.json");
    let body = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 0, "to": RECIPIENT,
        "value": "777", "gas_limit": 21000, "max_fee_per_gas": "30000000000",
        "max_priority_fee_per_gas": "1000000000"});
    std::fs::write(&tx, body.to_string()).unwrap();
    let sig = d.path("sig.json");
    let signed = d.mpc_ok(&[
        "sign",
        "--share",
        path_str(&w.share),
        "--tx",
        path_str(&tx),
        "--out",
        path_str(&sig),
    ]);
    let queue = ["broadcast", "--raw", path_str(&sig), "--no-wait"];
    let queued = d.mpc_ok(&queue);
    assert_eq!(
        (&queued["status"], &queued["duplicate"]),
        (&json!("queued"), &json!(false))
    );

    d.nats.kill();
    d.nats.start_again();
    // The stream and its de-duplication both came back from the store.
    let again = d.mpc_ok(&queue);
    assert_eq!(again["duplicate"], true, "{again}");

    let broadcaster = d.start_broadcaster(&anvil.url());
    let tx_hash: B256 = signed["tx_hash"].as_str().unwrap().parse().unwrap();
    let receipt = node.receipt(tx_hash, Duration::from_secs(15));
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(address(&receipt, "from"), w.address);
    assert_eq!(node.nonce(w.address), 1, "mined once");
    assert_eq!(node.balance(RECIPIENT.parse().unwrap()), U256::from(777));
    drop(broadcaster);
}

/// Hostile messages sent per flood, over about two seconds.
const FLOOD: u64 = 20_000;

/// The co-signer's resident memory in KiB (`VmRSS` of `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the co-signer runs");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// `len` bytes of deterministic garbage, different for each `seed`.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    (0u64..)
        .flat_map(|block| keccak256([seed.to_be_bytes(), block.to_be_bytes()].concat()).0)
        .take(len)
        .collect()
}

/// A request envelope (wire version 2) as the co-signer expects it, with a random client key
/// and a handshake that cannot authenticate: it costs the co-signer a Noise
/// handshake attempt and a refusal.
fn forged_request(seed: u64) -> Vec<u8> {
    let text = |s: &str| CborValue::Text(s.to_owned());
    let envelope = CborValue::Map(vec![
        (text("version"), CborValue::Integer(2.into())),
        (text("session_id"), text(&hex::encode(garbage(seed, 16)))),
        (
            text("client_static_pub"),
            CborValue::Bytes(garbage(seed + 1, 32)),
        ),
        (text("handshake"), CborValue::Bytes(garbage(seed + 2, 96))),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&envelope, &mut out).unwrap();
    out
}

/// Publishes `count` hostile messages as the client user: garbage and forged
/// sign requests (with a reply inbox, so each is answered), garbage for
/// random sessions, and garbage into the live session once `live` names it.
async fn flood(
    nats: &mpc_session::Client,
    seeds: std::ops::Range<u64>,
    live: impl Fn() -> Option<String>,
    sent: &AtomicU64,
) {
    let reply = nats.new_inbox();
    for seed in seeds {
        let session = |live: Option<String>| {
            let session = live.unwrap_or_else(|| hex::encode(garbage(seed, 16)));
            format!("{SESSION_SUBJECTS}{session}.cosigner")
        };
        let request = "mpc.v1.cosigner.sign".to_owned();
        let (subject, payload) = match seed % 4 {
            0 => (request, garbage(seed, 200)),
            1 => (request, forged_request(seed)),
            2 => (session(None), garbage(seed, 300)),
            _ => (session(live()), garbage(seed, 300)),
        };
        nats.publish_with_reply(subject, reply.clone(), payload.into())
            .await
            .expect("the broker takes the flood");
        if seed % 200 == 199 {
            nats.flush().await.expect("flush the flood");
            sent.fetch_add(200, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    nats.flush().await.expect("flush the flood");
}

/// The legitimate `mpc sign` during the flood, retried while the co-signer
/// refuses it as busy (forged requests fill its queue: see the report),
/// which must succeed within one client timeout of the first attempt.
fn sign_under_flood(d: &Deployment, w: &Wallet, spy: &ChaosProxy, busy: &AtomicU64) -> Outcome {
    let started = Instant::now();
    let clean = ["cosigner_busy", SESSION_ERRORS[0], SESSION_ERRORS[1]];
    loop {
        match sign_through_with(d, w, spy, "under a flood", &clean) {
            Outcome::Failed { code, .. } if code == "cosigner_busy" => {
                busy.fetch_add(1, Ordering::SeqCst);
                let elapsed = started.elapsed();
                assert!(
                    elapsed < Duration::from_secs(CLIENT_TIMEOUT) + SLACK,
                    "refused as busy for {elapsed:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            outcome => return outcome,
        }
    }
}

#[test]
fn a_legitimate_sign_succeeds_under_a_hostile_flood_and_the_cosigner_memory_stays_bounded() {
    let d = deployment();
    let w = wallet(&d);
    let pid = d.cosigner.pid();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let hostile = runtime
        .block_on(mpc_session::connect(&d.nats.url(Role::Client)))
        .expect("the hostile client holds client credentials");
    // The legitimate client dials through a proxy that only watches (a zero
    // delay): it tells the attacker the live session, as subscribing to
    // `mpc.v1.session.>` with client credentials would.
    let spy = chaos(&d, ToCosigner, 1, Fault::Delay(Duration::ZERO), 0);
    let live = || spy.applied().first().map(|_| faulted_session(&spy));
    let baseline = rss_kib(pid);
    let (sent, flooding, peak) = (AtomicU64::new(0), AtomicBool::new(true), AtomicU64::new(0));
    let busy = AtomicU64::new(0);

    let outcome = std::thread::scope(|scope| {
        scope.spawn(|| {
            while flooding.load(Ordering::SeqCst) {
                peak.fetch_max(rss_kib(pid), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let flooder = scope.spawn(|| runtime.block_on(flood(&hostile, 0..FLOOD, live, &sent)));
        wait_until(Duration::from_secs(10), "the flood to start", || {
            sent.load(Ordering::SeqCst) >= FLOOD / 4
        });
        let outcome = sign_under_flood(&d, &w, &spy, &busy);
        flooder.join().expect("the flood ran");
        flooding.store(false, Ordering::SeqCst);
        outcome
    });
    assert!(matches!(outcome, Outcome::Succeeded), "{outcome:?}");
    let after_first = rss_kib(pid);
    let logs = d.cosigner.logs();
    // The flood reached the co-signer: garbage into the live session was
    // rejected there, and the garbage requests were refused.
    assert_rejected(&logs, &faulted_session(&spy), "malformed");
    let refused = logs.matches("\"refused request\"").count() as u64;
    assert!(
        refused >= FLOOD / 8,
        "only {refused} garbage requests refused"
    );
    let forged = logs.matches("request failed authentication").count() as u64;
    assert!(forged >= FLOOD / 16, "only {forged} forged requests tried");

    runtime.block_on(flood(&hostile, FLOOD..2 * FLOOD, || None, &sent));
    sign_retrying(&d, &w, "after two floods");
    let after_second = rss_kib(pid);
    let peak = peak.load(Ordering::SeqCst).max(after_second);
    let refused = d.cosigner.logs().matches("\"refused request\"").count();
    let busy = busy.load(Ordering::SeqCst);
    eprintln!("{refused} refused requests; the legitimate sign was refused as busy {busy} times");
    eprintln!("co-signer VmRSS: baseline {baseline} KiB, peak {peak} KiB, after one flood {after_first} KiB, after two {after_second} KiB");
    assert!(peak < 200 * 1024, "co-signer VmRSS peaked at {peak} KiB");
    assert!(
        after_second < after_first + 16 * 1024,
        "co-signer memory grows with each flood: {after_first} KiB, then {after_second} KiB"
    );
}
