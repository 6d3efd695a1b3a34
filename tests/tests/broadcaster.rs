//! `mpc broadcast` and the broadcaster's durable results: a transaction
//! asked about again answers at once, `--status` looks one up. Transactions
//! are signed by `cast` with a dev key (independent of the wallet): these
//! tests are about the broadcaster.

use std::process::Command;
use std::time::{Duration, Instant};

use mpc_e2e::{Anvil, Deployment, ANVIL_DEV_ADDRESS};
use serde_json::Value;

const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// A signed transfer of 1 wei from the first dev account, by `cast mktx`.
fn cast_mktx(anvil: &Anvil, nonce: u64) -> String {
    let output = Command::new(mpc_testkit::tool("cast"))
        .args([
            "mktx",
            "--private-key",
            DEV_KEY,
            "--nonce",
            &nonce.to_string(),
        ])
        .args([
            "--gas-limit",
            "21000",
            "--gas-price",
            "5gwei",
            "--priority-gas-price",
            "1gwei",
        ])
        .args([
            "--value",
            "1",
            "--chain",
            "11155111",
            "--rpc-url",
            &anvil.url(),
        ])
        .arg("0x3535353535353535353535353535353535353535")
        .output()
        .expect("run cast");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn status_of(deployment: &Deployment, tx_hash: &str) -> Value {
    deployment.mpc_ok(&["broadcast", "--status", tx_hash])
}

#[test]
fn asked_again_a_transaction_answers_at_once_and_status_looks_it_up() {
    let deployment = Deployment::start();
    let anvil = Anvil::start();
    let mut broadcaster = deployment.start_broadcaster(&anvil.url());

    let raw = cast_mktx(&anvil, 0);
    let queued = deployment.mpc_ok(&["broadcast", "--raw", &raw, "--no-wait"]);
    assert_eq!(queued["duplicate"], false, "{queued}");
    let tx_hash = queued["tx_hash"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mined = loop {
        let status = status_of(&deployment, &tx_hash);
        if status["status"] == "success" {
            break status;
        }
        assert!(Instant::now() < deadline, "not mined: {status}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let block = mined["block_number"].as_u64().expect("a block number");
    assert!(
        mined["receipt"]["from"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(ANVIL_DEV_ADDRESS),
        "{mined}"
    );

    // Queued again (de-duplicated), it answers from the results bucket: no
    // result is published again, so waiting for one would time out.
    let again = deployment.mpc_ok(&["broadcast", "--raw", &raw, "--wait-timeout", "3"]);
    assert_eq!(again["status"], "success", "{again}");
    assert_eq!(again["block_number"], block);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["tx_hash"], tx_hash.as_str());

    // With the broadcaster down, a new transaction is reported queued.
    broadcaster.kill();
    let second = cast_mktx(&anvil, 1);
    let queued = deployment.mpc_ok(&["broadcast", "--raw", &second, "--no-wait"]);
    assert_eq!(queued["status"], "queued", "{queued}");
    let looked_up = status_of(&deployment, queued["tx_hash"].as_str().unwrap());
    assert_eq!(looked_up["status"], "queued", "{looked_up}");
    assert_eq!(looked_up["block_number"], Value::Null);

    let unknown = format!("0x{}", "ab".repeat(32));
    let (code, error, _) = deployment.mpc_err(&["broadcast", "--status", &unknown]);
    assert_eq!(
        (code, error["error"]["code"].as_str()),
        (3, Some("unknown_broadcast")),
        "{error}"
    );
    let (code, error, _) = deployment.mpc_err(&["broadcast", "--status", "0x1234"]);
    assert_eq!(
        (code, error["error"]["code"].as_str()),
        (3, Some("invalid_tx_hash")),
        "{error}"
    );
}
