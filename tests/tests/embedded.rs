//! The CLI's default with no `MPC_NATS_URL`: it starts its own nats-server
//! (on a port the server picks and reports) and co-signer under `MPC_HOME`,
//! one instance per home shared by every command using it, and keygen,
//! sign, broadcast and watch work against them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use mpc_e2e::{embedded_mpc, embedded_serve, parse_success, Anvil, SEPOLIA_CHAIN_ID};
use serde_json::{json, Value};

fn mpc_env(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Value {
    let output = embedded_mpc(home, env, args)
        .arg("--json")
        .output()
        .unwrap();
    parse_success(args, &output)
}

fn mpc(home: &Path, args: &[&str]) -> Value {
    mpc_env(home, &[], args)
}

/// Pids of `program` processes whose command line names `home`.
fn processes_of(program: &str, home: &Path) -> Vec<u32> {
    let home = home.to_str().unwrap().as_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let arg0 = cmdline.split(|b| *b == 0).next()?;
            let named = Path::new(std::str::from_utf8(arg0).ok()?).file_name()? == program;
            let for_home = cmdline.windows(home.len()).any(|w| w == home);
            (named && for_home).then_some(pid)
        })
        .collect()
}

/// (nats-server, mpc-cosigner) process counts for `home`.
fn instance_counts(home: &Path) -> (usize, usize) {
    (
        processes_of("nats-server", home).len(),
        processes_of("mpc-cosigner", home).len(),
    )
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

fn fund(anvil: &Anvil, address: &str) {
    let reply: Value = reqwest::blocking::Client::new()
        .post(anvil.url())
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance",
            "params": [address, "0xde0b6b3a7640000"]}),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(reply.get("error").is_none(), "{reply}");
}

fn finished(args: &[&str], child: Child) -> Value {
    let output: Output = child.wait_with_output().unwrap();
    parse_success(args, &output)
}

#[test]
fn commands_with_one_home_share_one_broker_and_cosigner() {
    let home_dir = tempfile::tempdir().unwrap();
    let home_buf: PathBuf = home_dir.path().canonicalize().unwrap();
    let home = home_buf.as_path();
    let anvil = Anvil::start();
    let rpc = anvil.url();
    let env = [("MPC_RPC_URL", rpc.as_str())];

    // Before the concurrent part: a wallet, funded, with a signed transaction.
    let wallet = mpc(home, &["keygen", "--out", "a.enc"]);
    let from = wallet["address"].as_str().unwrap();
    fund(&anvil, from);
    let tx = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 0, "to": from, "value": "1",
        "gas_limit": 21000, "gas_price": "2000000000", "data": "0x"});
    std::fs::write(home.join("tx.json"), tx.to_string()).unwrap();
    mpc(
        home,
        &[
            "sign", "--share", "a.enc", "--tx", "tx.json", "--out", "sig.json",
        ],
    );
    assert_eq!(
        instance_counts(home),
        (0, 0),
        "a lone command stops what it started"
    );

    let server = embedded_serve(home, &env);
    assert_eq!(instance_counts(home), (1, 1));

    // Text mode: it says on stderr when it is subscribed.
    let mut watch = embedded_mpc(home, &env, &["watch", "--all", "--seconds", "40"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut watch_err = BufReader::new(watch.stderr.take().unwrap());
    let mut line = String::new();
    watch_err.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "watching every session");

    let keygen_args = ["keygen", "--out", "b.enc", "--json"];
    let sign_args = ["sign", "--share", "a.enc", "--message", "shared", "--json"];
    let broadcast_args = ["broadcast", "--raw", "sig.json", "--json"];
    let spawn = |args: &[&str]| {
        embedded_mpc(home, &env, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut running = vec![
        spawn(&keygen_args),
        spawn(&sign_args),
        spawn(&broadcast_args),
    ];
    // Sampled until all three are done: never a second broker or co-signer.
    while running
        .iter_mut()
        .any(|child| child.try_wait().unwrap().is_none())
    {
        let (nats, cosigners) = instance_counts(home);
        assert!(
            nats <= 1 && cosigners <= 1,
            "{nats} brokers, {cosigners} co-signers"
        );
        // Sampling, not synchronising: spare the two cores the commands need.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let broadcast = finished(&broadcast_args, running.pop().unwrap());
    let signed = finished(&sign_args, running.pop().unwrap());
    let created = finished(&keygen_args, running.pop().unwrap());
    assert_eq!(instance_counts(home), (1, 1));
    assert_eq!(broadcast["status"], "success", "{broadcast}");
    assert_eq!(signed["from"], from);
    assert_ne!(created["address"], from);

    let watched = watch.wait_with_output().unwrap();
    assert!(watched.status.success(), "watch: {:?}", watched.status);
    let records: Vec<Value> = String::from_utf8(watched.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let sessions: Vec<&str> = records
        .iter()
        .filter_map(|r| r["session"].as_str())
        .collect();
    assert!(
        sessions.contains(&signed["session_id"].as_str().unwrap()),
        "watch saw the concurrent sign: {sessions:?}"
    );
    assert!(sessions.contains(&created["session_id"].as_str().unwrap()));

    server.terminate();
    assert_eq!(
        instance_counts(home),
        (0, 0),
        "the last user stopped the instance"
    );
    assert!(!home.join("embedded.json").exists());
}
