//! Failures of real processes: the co-signer killed mid-keygen, the broker
//! restarted under a long-running co-signer, and what the logs of both sides
//! may (session ids, round names) and may not (secrets) contain.

mod support;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mpc_e2e::{parse_failure, Deployment, Role, CLIENT_PASSPHRASE, COSIGNER_PASSPHRASE};
use mpc_store::{Expect, Passphrase};
use serde_json::Value;
use support::{address, path_str, sign_message};

/// Waits until `condition` holds, for at most `limit`.
fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn cosigner_killed_mid_keygen_fails_cleanly_and_a_retry_succeeds() {
    let mut d = Deployment::start();
    let out = d.path("client_share.enc");
    let started = Instant::now();
    let keygen = d
        .mpc()
        .args([
            "keygen",
            "--out",
            path_str(&out),
            "--timeout",
            "3",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mpc keygen");
    // Kill once the co-signer has accepted the session, i.e. mid-protocol.
    wait_until(Duration::from_secs(10), "the keygen session", || {
        d.cosigner.logs().contains("session accepted")
    });
    d.cosigner.kill();
    let output = keygen.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    let (exit, error, stderr) = parse_failure(&["keygen"], &output);
    assert_eq!(exit, 5, "a lost co-signer is exit 5: {error} {stderr}");
    assert!(
        ["session_failed", "cosigner_timeout"].contains(&error["error"]["code"].as_str().unwrap()),
        "{error}"
    );
    assert!(
        elapsed < Duration::from_secs(3 * 2 + 2),
        "the client gave up within its --timeout per round, took {elapsed:?}"
    );
    assert!(!out.exists(), "no client share from a failed keygen");

    d.restart_cosigner();
    let keygen = d.keygen("client_share.enc");
    let (signer, _) = sign_message(&d, &out, "after the crash", &[]);
    assert_eq!(signer, address(&keygen, "address"));
}

#[test]
fn cosigner_survives_a_broker_restart_between_sessions() {
    let mut d = Deployment::start();
    let keygen = d.keygen("client_share.enc");
    let share = d.path("client_share.enc");

    d.nats.kill();
    let (exit, error, _) = d.mpc_err(&["sign", "--share", path_str(&share), "--message", "x"]);
    assert_eq!(
        (exit, error["error"]["code"].as_str()),
        (5, Some("broker_unreachable"))
    );
    d.nats.start_again();

    // The co-signer reconnects on its own: no restart of it.
    wait_until(
        Duration::from_secs(20),
        "the co-signer to reconnect",
        || {
            d.mpc()
                .args(["health", "--json"])
                .output()
                .unwrap()
                .status
                .success()
        },
    );
    assert!(
        d.cosigner.is_running(),
        "the co-signer survived the broker restart"
    );
    let (signer, _) = sign_message(&d, &share, "after the broker restart", &[]);
    assert_eq!(signer, address(&keygen, "address"));
}

/// Every `len`-byte window of `haystack`.
fn windows(haystack: &[u8], len: usize) -> HashSet<&[u8]> {
    haystack.windows(len).collect()
}

/// Asserts that no 16-byte window of `secret`, raw or as hex, is in `logs`,
/// except windows of what the commands printed anyway (the plaintext
/// carries the address, which is public).
fn assert_absent(logs: &[u8], secret: &[u8], public: &[u8], what: &str) {
    assert!(secret.len() >= 16, "{what} is too short to check");
    let (raw, hex_windows) = (windows(logs, 16), windows(logs, 32));
    let public = windows(public, 16);
    for window in secret.windows(16).filter(|w| !public.contains(w)) {
        assert!(
            !raw.contains(window),
            "the logs hold raw bytes of {what}: {:?}",
            String::from_utf8_lossy(window)
        );
        let encoded = hex::encode(window);
        assert!(
            !hex_windows.contains(encoded.as_bytes())
                && !hex_windows.contains(encoded.to_uppercase().as_bytes()),
            "the logs hold {what} in hex"
        );
    }
}

fn json_lines(logs: &str, who: &str) -> Vec<Value> {
    logs.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{who} log line is not JSON ({e}): {line}"))
        })
        .collect()
}

#[test]
fn debug_logs_are_json_with_sessions_and_rounds_but_no_secrets() {
    let d = Deployment::start();
    let share = d.path("client_share.enc");
    let run = |args: &[&str]| {
        let output = d.mpc().args(args).arg("--json").output().unwrap();
        let json = mpc_e2e::parse_success(args, &output);
        (json, String::from_utf8(output.stderr).expect("UTF-8 logs"))
    };
    let (keygen, keygen_log) = run(&["keygen", "--out", path_str(&share)]);
    let (signed, sign_log) = run(&["sign", "--share", path_str(&share), "--message", "hi"]);
    let client_log = keygen_log + &sign_log;
    let cosigner_log = d.cosigner.logs();

    for (who, logs) in [("client", &client_log), ("co-signer", &cosigner_log)] {
        let lines = json_lines(logs, who);
        assert!(lines.len() > 5, "{who} logs at debug: {logs}");
        for session in [&keygen["session_id"], &signed["session_id"]] {
            let session = session.as_str().unwrap();
            assert!(logs.contains(session), "{who} logs name session {session}");
        }
        for round in ["dkg.1", "dkg.confirm", "sign.1", "sign.3"] {
            assert!(
                logs.contains(&format!("\"{round}\"")),
                "{who} logs name round {round}"
            );
        }
    }

    let logs = format!("{client_log}\n{cosigner_log}");
    let public = format!("{keygen}\n{signed}");
    for passphrase in [CLIENT_PASSPHRASE, COSIGNER_PASSPHRASE] {
        assert!(!logs.contains(passphrase), "a passphrase is in the logs");
    }
    for role in [Role::Client, Role::Cosigner] {
        assert!(
            !logs.contains(d.nats.password(role)),
            "a broker password is in the logs"
        );
    }
    // The decrypted shares (key share and identity key of each side).
    let client = mpc_store::load_share(
        &share,
        Expect::default(),
        Some(&Passphrase::new(CLIENT_PASSPHRASE.to_owned()).unwrap()),
    )
    .expect("the client share decrypts");
    assert_absent(
        logs.as_bytes(),
        &client.plaintext,
        public.as_bytes(),
        "the client share",
    );
    let wallet_id = keygen["wallet_id"].as_str().unwrap();
    let cosigner = mpc_store::load_share(
        &d.cosigner_share(wallet_id),
        Expect::default(),
        Some(&Passphrase::new(COSIGNER_PASSPHRASE.to_owned()).unwrap()),
    )
    .expect("the co-signer share decrypts");
    assert_absent(
        logs.as_bytes(),
        &cosigner.plaintext,
        public.as_bytes(),
        "the co-signer share",
    );
    let identity = std::fs::read(d.cosigner_data().join("identity.key")).unwrap();
    assert_absent(
        logs.as_bytes(),
        &identity,
        public.as_bytes(),
        "the co-signer identity key",
    );
    // Nor the ciphertext (the header, wallet id and public key, is public):
    // magic (8), format version (2), header length H (4), header, nonce (12).
    let file = std::fs::read(&share).unwrap();
    let header_len = u32::from_be_bytes(file[10..14].try_into().unwrap()) as usize;
    let ciphertext = &file[14 + header_len + 12..];
    assert_absent(
        logs.as_bytes(),
        ciphertext,
        public.as_bytes(),
        "the share ciphertext",
    );
}
