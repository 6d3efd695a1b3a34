//! The CLI's default with no `MPC_NATS_URL`: it starts its own nats-server
//! (on a port the server picks and reports) and co-signer under `MPC_HOME`,
//! and keygen and sign work against them.

use std::process::Command;

use mpc_e2e::{binary, CLIENT_PASSPHRASE};
use serde_json::Value;

fn mpc(home: &std::path::Path, args: &[&str]) -> Value {
    let tools = mpc_testkit::tool("nats-server");
    let path = format!(
        "{}:{}",
        tools.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(binary("mpc"))
        .env_clear()
        .env("PATH", path)
        .env("MPC_HOME", home)
        .env("MPC_PASSPHRASE", CLIENT_PASSPHRASE)
        .current_dir(home)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "mpc {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn without_a_broker_url_mpc_starts_its_own_broker_and_cosigner() {
    let home = tempfile::tempdir().unwrap();
    let health = mpc(home.path(), &["health"]);
    assert_eq!(
        (health["status"].as_str(), health["embedded"].as_bool()),
        (Some("ok"), Some(true))
    );
    let created = mpc(home.path(), &["keygen", "--out", "share.enc"]);
    // A second command starts the services again on the state kept in MPC_HOME.
    let signed = mpc(
        home.path(),
        &["sign", "--share", "share.enc", "--message", "embedded"],
    );
    assert_eq!(signed["from"], created["address"]);
    assert!(
        home.path().join("broker/ports").is_dir(),
        "the port was read back from nats-server"
    );
}
