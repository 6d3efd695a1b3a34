//! A co-signer creates wallets only for clients its operator admits: a
//! single-use token (`mpc-cosigner enroll`, `mpc keygen --enroll`) or an
//! allowlisted client key (`mpc-cosigner enroll --client`). Both refusals
//! and both admissions, against the real binaries.

mod support;

use std::process::Command;

use mpc_client::{Connection, Identity, KeySource, Overwrite, Passphrase};
use mpc_e2e::{binary, Deployment, Role, CLIENT_PASSPHRASE};
use serde_json::Value;

/// `mpc-cosigner --data-dir <its data> enroll <args> --json`, as the operator.
fn enroll(d: &Deployment, args: &[&str]) -> Value {
    let output = Command::new(binary("mpc-cosigner"))
        .arg("--data-dir")
        .arg(d.cosigner_data())
        .arg("enroll")
        .args(args)
        .arg("--json")
        .env_clear()
        .output()
        .expect("run mpc-cosigner enroll");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

fn keygen_refused(d: &Deployment, out: &str, extra: &[&str]) -> String {
    let path = d.path(out);
    let mut args = vec!["keygen", "--out", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (exit, json, stderr) = d.mpc_err(&args);
    assert_eq!(exit, 1, "{stderr}");
    assert_eq!(json["error"]["code"], "not_enrolled", "{json}");
    assert!(!path.exists(), "a refused keygen writes no share");
    stderr
}

#[test]
fn a_token_admits_one_keygen_and_no_token_admits_none() {
    let d = Deployment::start_enrolled(&[]);
    let stderr = keygen_refused(&d, "no_token.enc", &[]);
    assert!(
        stderr.contains("mpc-cosigner enroll"),
        "says what to do: {stderr}"
    );

    let token = enroll(&d, &[])["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mpc-enroll-"), "{token}");
    let share = d.path("enrolled.enc");
    let keygen = d.mpc_ok(&[
        "keygen",
        "--out",
        share.to_str().unwrap(),
        "--enroll",
        &token,
    ]);
    let (signer, _) = support::sign_message(&d, &share, "enrolled", &[]);
    assert_eq!(signer, support::address(&keygen, "address"));

    let stderr = keygen_refused(&d, "reused.enc", &["--enroll", &token]);
    assert!(stderr.contains("unknown, used or expired"), "{stderr}");
    // The data dir keeps no usable token: only its hash names a file.
    let tokens = d.cosigner_data().join("enrollment/tokens");
    assert!(std::fs::read_dir(tokens).unwrap().next().is_none(), "spent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlisted_client_key_needs_no_token_and_another_key_is_refused() {
    let d = Deployment::start_enrolled(&[]);
    let allowed = Identity::generate().unwrap();
    let public_key = hex::encode(allowed.public_key());
    let added = tokio::task::block_in_place(|| enroll(&d, &["--client", &public_key]));
    assert_eq!(added["added"], true, "{added}");

    let keygen = |identity: Identity, out: &str| {
        let (d, out) = (&d, d.path(out));
        async move {
            let connection = Connection::builder()
                .nats_url(d.nats.url(Role::Client))
                .client_identity(identity)
                .connect()
                .await
                .unwrap();
            let passphrase = Passphrase::new(CLIENT_PASSPHRASE.to_owned()).unwrap();
            connection
                .keygen(&out, KeySource::Passphrase(passphrase), Overwrite::Refuse)
                .await
                .map(|(_, created)| created)
        }
    };
    let created = keygen(allowed, "allowed.enc").await.expect("admitted");
    let (signer, _) = tokio::task::block_in_place(|| {
        support::sign_message(&d, &d.path("allowed.enc"), "allowlisted", &[])
    });
    assert_eq!(signer, created.address);

    let error = keygen(Identity::generate().unwrap(), "stranger.enc")
        .await
        .expect_err("a key not on the allowlist");
    assert_eq!(error.code(), "not_enrolled", "{error}");
    assert!(!d.path("stranger.enc").exists());
}

#[test]
fn mpc_serve_keygen_takes_the_token_and_refuses_without_it() {
    let d = Deployment::start_enrolled(&[]);
    let api = mpc_e2e::api::Api::start(&d, &[]);
    let started = api.ok("/keygen/init", serde_json::json!({}));
    let message = api.err(
        "/keygen/complete",
        started,
        reqwest::StatusCode::FORBIDDEN,
        "not_enrolled",
    );
    assert!(message.contains("enrollment token"), "{message}");
    assert!(!d.path(mpc_e2e::api::SHARE).exists());

    let token = enroll(&d, &[])["token"].as_str().unwrap().to_owned();
    let wallet = api.keygen(serde_json::json!({"enroll": token}));
    assert!(wallet["address"].is_string(), "{wallet}");
}
