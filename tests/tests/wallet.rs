//! The wallet across real processes: `mpc` and `mpc-cosigner` over a real
//! nats-server. Keygen, signing (recovered here, independently), child
//! accounts, the JSON contract, file modes, bad shares and a missing peer.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{keccak256, Address};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use mpc_e2e::{parse_failure, parse_success, Deployment};
use serde_json::Value;
use support::{address, assert_error, mode, path_str, sign_message};

fn keys(json: &Value) -> BTreeSet<&str> {
    json.as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// The address of a compressed public key, computed here.
fn address_of_public_key(public_key_hex: &str) -> Address {
    let bytes = hex::decode(public_key_hex.trim_start_matches("0x")).expect("hex public key");
    let key = VerifyingKey::from_sec1_bytes(&bytes).expect("a secp256k1 point");
    let point = key.to_sec1_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// The signer of a raw EIP-1559 transaction, recovered from its own bytes.
fn recover_raw_tx(raw_hex: &str) -> Address {
    let raw = hex::decode(raw_hex.trim_start_matches("0x")).expect("hex raw tx");
    let envelope = TxEnvelope::decode_2718(&mut raw.as_slice()).expect("a typed transaction");
    let signature = envelope.signature();
    let rs = [
        signature.r().to_be_bytes::<32>(),
        signature.s().to_be_bytes::<32>(),
    ]
    .concat();
    let ecdsa = Signature::from_slice(&rs).expect("valid scalars");
    assert_eq!(ecdsa.normalize_s(), ecdsa, "low s");
    let key = VerifyingKey::recover_from_prehash(
        envelope.signature_hash().as_slice(),
        &ecdsa,
        RecoveryId::new(signature.v(), false),
    )
    .expect("recovers");
    let point = key.to_sec1_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

fn write_tx(d: &Deployment, name: &str) -> String {
    let tx = serde_json::json!({
        "chain_id": mpc_e2e::SEPOLIA_CHAIN_ID, "nonce": 0,
        "to": "0x000000000000000000000000000000000000dEaD", "value": "1000",
        "gas_limit": 21000, "max_fee_per_gas": "30000000000",
        "max_priority_fee_per_gas": "1000000000", "data": "0x"
    });
    let path = d.path(name);
    std::fs::write(&path, tx.to_string()).expect("write tx.json");
    path_str(&path).to_owned()
}

#[test]
fn keygen_and_sign_across_processes_recover_to_the_printed_address() {
    let d = Deployment::start();
    let share = d.path("client_share.enc");
    let keygen = d.keygen("client_share.enc");
    for field in [
        "address",
        "public_key",
        "wallet_id",
        "session_id",
        "cosigner_fingerprint",
    ] {
        assert!(
            keygen[field].as_str().is_some_and(|v| !v.is_empty()),
            "keygen JSON lacks {field}: {keygen}"
        );
    }
    let wallet = address(&keygen, "address");
    assert_eq!(
        address_of_public_key(keygen["public_key"].as_str().unwrap()),
        wallet,
        "the printed address is the public key's"
    );

    // personal_sign: 65 bytes, recovered here, low s.
    let (signer, signed) = sign_message(&d, &share, "hello", &[]);
    assert_eq!(signer, wallet);
    assert!(
        keys(&signed).is_superset(&BTreeSet::from(["r", "s", "v", "from", "signature"])),
        "sign JSON: {signed}"
    );
    assert_eq!(address(&signed, "from"), wallet);
    let signature = signed["signature"].as_str().unwrap();
    let (r, s) = (signed["r"].as_str().unwrap(), signed["s"].as_str().unwrap());
    assert_eq!(
        signature[..130],
        format!("0x{}{}", &r[2..], &s[2..]),
        "signature is r ‖ s ‖ v"
    );
    assert_ne!(signed["session_id"], keygen["session_id"]);

    // A transaction: the raw bytes themselves recover to the wallet.
    let tx = write_tx(&d, "tx.json");
    let sig_json = d.path("sig.json");
    let signed_tx = d.mpc_ok(&[
        "sign",
        "--share",
        path_str(&share),
        "--tx",
        &tx,
        "--out",
        path_str(&sig_json),
    ]);
    for field in ["r", "s", "v", "raw_tx", "tx_hash", "from"] {
        assert!(
            signed_tx[field].is_string(),
            "sign JSON lacks {field}: {signed_tx}"
        );
    }
    assert_eq!(
        recover_raw_tx(signed_tx["raw_tx"].as_str().unwrap()),
        wallet
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&sig_json).unwrap()).expect("sig.json");
    assert_eq!(written, signed_tx, "sig.json holds what was printed");

    // Child accounts: distinct addresses, and each signs as itself.
    let child = |index: &str| {
        let json = d.mpc_ok(&["address", "--share", path_str(&share), "--index", index]);
        assert_eq!(json["index"], index.parse::<u64>().unwrap(), "{json}");
        address(&json, "address")
    };
    let children = [child("0"), child("1"), child("7")];
    let master = address(
        &d.mpc_ok(&["address", "--share", path_str(&share)]),
        "address",
    );
    assert_eq!(master, wallet);
    let distinct: BTreeSet<_> = children.iter().chain([&master]).collect();
    assert_eq!(distinct.len(), 4, "every index has its own address");
    let (signer, signed) = sign_message(&d, &share, "child seven", &["--index", "7"]);
    assert_eq!(signer, children[2]);
    assert_eq!(address(&signed, "from"), children[2]);

    // Both shares at rest, owner-only.
    let wallet_id = keygen["wallet_id"].as_str().unwrap();
    let cosigner_share = d.cosigner_share(wallet_id);
    assert_eq!(mode(&cosigner_share), 0o600, "{}", cosigner_share.display());
    assert_eq!(mode(&share), 0o600);
}

fn sign_with(d: &Deployment, share: &Path) -> (i32, Value, String) {
    d.mpc_err(&support::sign_args(share))
}

fn flip_byte(path: &Path, index: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[index] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn bad_shares_and_a_missing_cosigner_fail_with_clear_codes() {
    let mut d = Deployment::start();
    let keygen = d.keygen("good.enc");
    let good = d.path("good.enc");
    let original = std::fs::read(&good).unwrap();

    let wrong = d.mpc_err_env(
        &[("MPC_PASSPHRASE", "not the passphrase")],
        &["sign", "--share", path_str(&good), "--message", "x"],
    );
    assert_error(wrong, 4, "wrong_passphrase");

    // A flipped ciphertext byte, then a flipped header byte (a hex digit of
    // the public key, so the header still parses): tampered, file left alone.
    let ciphertext = d.path("ciphertext.enc");
    std::fs::write(&ciphertext, &original).unwrap();
    flip_byte(&ciphertext, original.len() - 20);
    let tampered = std::fs::read(&ciphertext).unwrap();
    assert_error(sign_with(&d, &ciphertext), 4, "share_tampered");
    assert_eq!(
        std::fs::read(&ciphertext).unwrap(),
        tampered,
        "file untouched"
    );

    let header = d.path("header.enc");
    let public_key = keygen["public_key"]
        .as_str()
        .unwrap()
        .trim_start_matches("0x");
    let at = original
        .windows(public_key.len())
        .position(|w| w == public_key.as_bytes())
        .expect("the header holds the public key in hex")
        + 10;
    let mut bytes = original.clone();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&header, &bytes).unwrap();
    assert_error(sign_with(&d, &header), 4, "share_tampered");
    assert_eq!(std::fs::read(&header).unwrap(), bytes, "file untouched");

    let truncated = d.path("truncated.enc");
    std::fs::write(&truncated, &original[..original.len() - 40]).unwrap();
    assert_error(sign_with(&d, &truncated), 4, "share_truncated");

    // The co-signer's share is not a client share, whatever the passphrase.
    let cosigner_share = d.cosigner_share(keygen["wallet_id"].as_str().unwrap());
    assert_error(sign_with(&d, &cosigner_share), 4, "wrong_party");

    // keygen refuses to overwrite, before any session: old bytes stay.
    let before = std::fs::read_dir(d.cosigner_data().join("wallets"))
        .unwrap()
        .count();
    let exists = d.mpc_err(&["keygen", "--out", path_str(&good)]);
    let message = assert_error(exists, 2, "share_exists");
    assert!(message.contains("good.enc"), "names the file: {message}");
    assert_eq!(
        std::fs::read(&good).unwrap(),
        original,
        "old share byte-identical"
    );
    let after = std::fs::read_dir(d.cosigner_data().join("wallets"))
        .unwrap()
        .count();
    assert_eq!(before, after, "no co-signer wallet for a refused keygen");

    // The co-signer loses its share of this wallet: a clear refusal.
    let (signer, _) = sign_message(&d, &good, "warm the cache", &[]);
    assert_eq!(signer, address(&keygen, "address"));
    std::fs::remove_file(&cosigner_share).unwrap();
    assert_error(sign_with(&d, &good), 4, "unknown_wallet");

    // No co-signer at all: health fails fast.
    d.cosigner.kill();
    let started = Instant::now();
    assert_error(d.mpc_err(&["health"]), 5, "cosigner_unreachable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "health took {:?}",
        started.elapsed()
    );
    assert_error(sign_with(&d, &good), 5, "cosigner_unreachable");
}

fn spawn_sign(d: &Deployment, share: &Path, message: &str) -> Child {
    d.mpc()
        .args([
            "sign",
            "--share",
            path_str(share),
            "--message",
            message,
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mpc sign")
}

#[test]
fn concurrent_sessions_sign_correctly_or_are_refused_as_busy() {
    let d = Deployment::start();
    let a = address(&d.keygen("a.enc"), "address");
    let b = address(&d.keygen("b.enc"), "address");
    let (share_a, share_b) = (d.path("a.enc"), d.path("b.enc"));

    // Different wallets: both sign.
    let first = spawn_sign(&d, &share_a, "to a");
    let second = spawn_sign(&d, &share_b, "to b");
    for (child, message, expected) in [(first, "to a", a), (second, "to b", b)] {
        let output = child.wait_with_output().unwrap();
        let signed = parse_success(&["sign"], &output);
        let signer = support::recover_personal(message, signed["signature"].as_str().unwrap());
        assert_eq!(signer, expected);
    }

    // One wallet, two sessions at once: each signs correctly or is refused
    // as busy, and one of each pair gets through.
    for round in 0..3 {
        let messages = [format!("same {round} x"), format!("same {round} y")];
        let children: Vec<_> = messages
            .iter()
            .map(|m| spawn_sign(&d, &share_a, m))
            .collect();
        let mut signed = 0;
        for (child, message) in children.into_iter().zip(&messages) {
            let output = child.wait_with_output().unwrap();
            if output.status.success() {
                let json = parse_success(&["sign"], &output);
                let signer =
                    support::recover_personal(message, json["signature"].as_str().unwrap());
                assert_eq!(signer, a, "never a wrong signature");
                signed += 1;
            } else {
                assert_error(parse_failure(&["sign"], &output), 5, "cosigner_busy");
            }
        }
        assert!(signed >= 1, "one session of pair {round} signs");
    }
}

#[test]
fn the_cosigner_finishes_each_signing_session_as_the_client_exits() {
    let d = Deployment::start();
    let wallets: Vec<_> = (0..3)
        .map(|n| {
            let name = format!("wallet{n}.enc");
            (address(&d.keygen(&name), "address"), d.path(&name))
        })
        .collect();
    // Back to back, on a busy machine: the client's last round must leave
    // before `mpc` exits, or the co-signer waits a round timeout for it with
    // the wallet busy.
    std::thread::scope(|scope| {
        for (wallet, share) in &wallets {
            let d = &d;
            scope.spawn(move || {
                for round in 0..4 {
                    let (signer, signed) = sign_message(d, share, &format!("round {round}"), &[]);
                    assert_eq!(&signer, wallet);
                    let session = signed["session_id"].as_str().unwrap();
                    let deadline = Instant::now() + Duration::from_secs(2);
                    while !d
                        .cosigner
                        .logs()
                        .lines()
                        .any(|line| line.contains(session) && line.contains("\"signed\""))
                    {
                        assert!(
                            Instant::now() < deadline,
                            "the co-signer never received the last round of session {session}"
                        );
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            });
        }
    });
}
