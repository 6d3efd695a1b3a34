//! The README's "Without Docker" block runs as written: its broker,
//! co-signer and broadcaster come up from a checkout and `mpc health`
//! answers. Only the placeholders change: anvil stands in for the Sepolia
//! URL, and a free port for 4222 (a developer's own broker may hold it).

use std::process::Command;

use mpc_e2e::{bin_dir, readme_block, Anvil, CLIENT_PASSPHRASE};
use mpc_testkit::workspace_root as root;
use serde_json::Value;

#[test]
fn the_readme_without_docker_block_starts_services_that_sign() {
    let block = readme_block("### Without Docker");
    assert!(block.contains("https://…sepolia…") && block.contains("4222"));
    let anvil = Anvil::start();
    let port = mpc_testkit::free_port().to_string();
    let script = block
        .replace("https://…sepolia…", &anvil.url())
        .replace("4222", &port);
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("nats"), dir.path().join("nats")).unwrap();
    let tools = mpc_testkit::tool("nats-server");
    let path = format!(
        "{}:{}:{}",
        bin_dir().display(),
        tools.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // After the block: the services it started must sign, then go.
    let checks = format!(
        "export MPC_PASSPHRASE={CLIENT_PASSPHRASE:?}\n\
         mpc keygen --out client_share.enc --json > keygen.json\n\
         mpc sign --share client_share.enc --message readme --json > sign.json\n\
         kill -0 %3 # the broadcaster is still running\n"
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{script}\n{checks}"
        ))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the README block failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|line| line == "ok"),
        "mpc health said ok: {stdout}"
    );
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap()
    };
    assert_eq!(read("sign.json")["from"], read("keygen.json")["address"]);
    assert_eq!(
        std::fs::metadata(dir.path().join("mpc-data/cosigner_passphrase"))
            .map(|meta| std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777)
            .unwrap(),
        0o600
    );
}
