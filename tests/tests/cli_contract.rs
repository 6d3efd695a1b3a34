//! The CLI's contract for every outcome a script can meet: with `--json`,
//! stdout is exactly one JSON object, errors included; stderr is the one
//! error line unless MPC_LOG asks for logs; the exit code follows the table.

mod support;

use mpc_e2e::{Anvil, Deployment};
use serde_json::Value;
use support::path_str;

/// Runs `mpc <args> --json` without MPC_LOG (and with `env`, where an empty
/// value removes the variable) and checks the failure's shape: exit code,
/// one JSON error object with `code`, one stderr line.
fn refused(d: &Deployment, env: &[(&str, &str)], args: &[&str], exit: i32, code: &str) -> String {
    let mut command = d.mpc();
    command.env_remove("MPC_LOG");
    for (name, value) in env {
        match *value {
            "" => command.env_remove(name),
            value => command.env(name, value),
        };
    }
    let output = command.args(args).arg("--json").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let json: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("mpc {args:?}: stdout is not one JSON object ({e}): {stdout:?}")
    });
    assert_eq!(
        (output.status.code(), json["error"]["code"].as_str()),
        (Some(exit), Some(code)),
        "mpc {args:?}: {json} / {stderr}"
    );
    assert_eq!(stdout.trim().lines().count(), 1, "one object: {stdout}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "mpc {args:?}: stderr holds only the error line: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    json["error"]["message"].as_str().unwrap().to_owned()
}

#[test]
fn every_failure_has_its_exit_code_one_json_object_and_one_stderr_line() {
    let d = Deployment::start();
    let anvil = Anvil::start();
    d.keygen("client_share.enc");
    let share = d.path("client_share.enc");
    let share = path_str(&share);

    // Argument errors are usage errors (2), in JSON too.
    refused(&d, &[], &["--bogus"], 2, "usage");
    refused(&d, &[], &[], 2, "usage");
    refused(&d, &[], &["address", "--index", "abc"], 2, "usage");
    let both = refused(
        &d,
        &[],
        &[
            "sign",
            "--share",
            share,
            "--message",
            "hi",
            "--tx",
            "tx.json",
        ],
        2,
        "usage",
    );
    assert!(
        both.contains("--message") || both.contains("--tx"),
        "{both}"
    );

    // Refusing to overwrite, a missing passphrase with no terminal and a
    // malformed broker URL are usage errors too.
    let exists = refused(&d, &[], &["keygen", "--out", share], 2, "share_exists");
    assert!(exists.contains("--force"), "says how: {exists}");
    refused(
        &d,
        &[(
            "MPC_BACKUP_PASSPHRASE",
            "backup words for the contract test",
        )],
        &["backup", "export", "--share", share, "--out", share],
        2,
        "share_exists",
    );
    let no_terminal = refused(
        &d,
        &[("MPC_PASSPHRASE", "")],
        &["address", "--share", share],
        2,
        "passphrase_required",
    );
    assert!(no_terminal.contains("MPC_PASSPHRASE"), "{no_terminal}");
    let backup_words = refused(
        &d,
        &[],
        &["backup", "verify", "--in", share],
        2,
        "passphrase_required",
    );
    assert!(
        backup_words.contains("MPC_BACKUP_PASSPHRASE") && !backup_words.contains("MPC_PASSPHRASE"),
        "names the backup variables: {backup_words}"
    );
    refused(
        &d,
        &[("MPC_NATS_URL", "not a url at all")],
        &["health"],
        2,
        "invalid_broker_url",
    );
    refused(&d, &[], &["watch", "not/a.session"], 2, "invalid_argument");

    // Files that are not there, or say nothing.
    refused(
        &d,
        &[],
        &["unlock", "--share", "nope.enc"],
        4,
        "share_not_found",
    );
    std::fs::write(d.path("empty.hex"), "").unwrap();
    let empty = refused(
        &d,
        &[],
        &["broadcast", "--raw", "empty.hex"],
        3,
        "invalid_raw_tx",
    );
    assert!(empty.contains("empty"), "{empty}");

    // A transaction for another chain than the node's is a chain error (7),
    // and signing starts no broadcaster it does not need.
    std::fs::write(
        d.path("tx.json"),
        r#"{"chain_id": 1, "nonce": 0, "to": "0x000000000000000000000000000000000000bEEF",
            "value": "1", "gas_limit": 21000, "max_fee_per_gas": "30gwei",
            "max_priority_fee_per_gas": "1gwei"}"#,
    )
    .unwrap();
    refused(
        &d,
        &[("MPC_CHAIN_ID", "1"), ("MPC_RPC_URL", &anvil.url())],
        &["sign", "--share", share, "--tx", "tx.json"],
        7,
        "wrong_chain",
    );
}

#[test]
fn help_shows_no_secret_from_the_environment() {
    let secret_url = "nats://broadcaster:hunter2-secret@127.0.0.1:4222";
    let secret_rpc = "https://eth-sepolia.example/v2/API-KEY-abc123";
    for (binary, args) in [
        ("mpc", vec!["--help"]),
        ("mpc", vec!["sign", "--help"]),
        ("mpc-broadcaster", vec!["--help"]),
        ("mpc-cosigner", vec!["--help"]),
    ] {
        let output = std::process::Command::new(mpc_e2e::binary(binary))
            .args(&args)
            .env("MPC_NATS_URL", secret_url)
            .env("MPC_RPC_URL", secret_rpc)
            .output()
            .unwrap();
        assert!(output.status.success(), "{binary} {args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(!help.is_empty());
        for secret in ["hunter2-secret", "API-KEY-abc123"] {
            assert!(
                !help.contains(secret),
                "{binary} {args:?} shows {secret}: {help}"
            );
        }
    }
}

/// A flag shows only on the commands it changes: `address` reads a local
/// file, so it has no broker or RPC flags; `sign` has both.
#[test]
fn each_command_shows_only_the_flags_that_apply_to_it() {
    let help = |args: &[&str]| {
        let output = std::process::Command::new(mpc_e2e::binary("mpc"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success(), "mpc {args:?} --help");
        String::from_utf8(output.stdout).unwrap()
    };
    for (args, shown, hidden) in [
        (
            &["address"][..],
            &["--share", "--index", "--json"][..],
            &[
                "--rpc-url",
                "--nats-url",
                "--chain-id",
                "--key-source",
                "--timeout",
            ][..],
        ),
        (
            &["sign"],
            &[
                "--rpc-url",
                "--nats-url",
                "--chain-id",
                "--timeout",
                "--json",
            ],
            &["--key-source", "--cosigner-key"],
        ),
        (
            &["keygen"],
            &["--nats-url", "--key-source", "--home", "--cosigner-key"],
            &["--rpc-url", "--chain-id"],
        ),
        (
            &["balance"],
            &["--rpc-url", "--chain-id"],
            &["--nats-url", "--timeout"],
        ),
        (
            &["backup", "export"],
            &["--out"],
            &["--nats-url", "--rpc-url", "--key-source"],
        ),
    ] {
        let text = help(args);
        for flag in shown {
            assert!(
                text.contains(flag),
                "mpc {args:?} --help lacks {flag}: {text}"
            );
        }
        for flag in hidden {
            assert!(
                !text.contains(flag),
                "mpc {args:?} --help shows {flag}: {text}"
            );
        }
    }
}

#[test]
fn ctrl_c_is_one_json_object_and_exit_130() {
    let d = Deployment::start();
    let watch = d
        .mpc()
        .env_remove("MPC_LOG")
        .args(["watch", "0123456789abcdef0123456789abcdef", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Give it time to connect and subscribe: the interrupt must meet the command.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = watch.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    assert_eq!(json["error"]["code"], "interrupted");
}

/// A worker given another role's credentials stops at once and says why,
/// instead of running on while every client's request times out.
#[test]
fn a_worker_with_the_clients_credentials_exits_with_a_clear_error() {
    let d = Deployment::start();
    let anvil = Anvil::start();
    let data = tempfile::tempdir().unwrap();
    let client_url = d.nats.url(mpc_e2e::Role::Client);
    let mut cosigner = std::process::Command::new(mpc_e2e::binary("mpc-cosigner"));
    cosigner
        .arg("--data-dir")
        .arg(data.path())
        .env("MPC_KEY_SOURCE", "passphrase")
        .env("MPC_PASSPHRASE", mpc_e2e::COSIGNER_PASSPHRASE);
    let mut broadcaster = std::process::Command::new(mpc_e2e::binary("mpc-broadcaster"));
    broadcaster.env("MPC_RPC_URL", anvil.url());
    for (mut command, refused) in [
        // Its first subscription is the Services API's.
        (cosigner, "$SRV.PING"),
        (broadcaster, "$JS.API.STREAM.UPDATE"),
    ] {
        let mut worker = command
            .env("MPC_NATS_URL", &client_url)
            .env_remove("MPC_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(status) = worker.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = worker.kill();
                panic!("{command:?} kept running with the client's credentials");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut worker.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{stderr}");
        // Logs are JSON lines; the error is the one plain line.
        let error = stderr
            .lines()
            .find(|line| !line.starts_with('{'))
            .unwrap_or_default();
        assert!(error.contains("lack this role's permissions"), "{stderr}");
        assert!(
            error.contains(refused),
            "names the refused subject: {error}"
        );
    }
}
