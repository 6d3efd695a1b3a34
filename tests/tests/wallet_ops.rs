//! What wallet users expect, end to end on anvil: `mpc send` (ether, ERC-20,
//! contract creation), `balance`, `nonce`, `tx status`, `tx speed-up`,
//! `tx cancel` and `completions`, through the real CLI, co-signer and
//! broadcaster over a real nats-server. The node is read directly over
//! JSON-RPC, independently of the wallet.

use std::path::Path;
use std::time::{Duration, Instant};

use mpc_e2e::{bin_dir, Anvil, Deployment, Role, Worker, CLIENT_PASSPHRASE};
use serde_json::{json, Value};

const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
const SHARE: &str = "client_share.enc";

/// One JSON-RPC call to the node, its `result`.
fn node(url: &str, method: &str, params: Value) -> Value {
    let reply: Value = reqwest::blocking::Client::new()
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("{method} to {url}: {e}"));
    assert!(reply["error"].is_null(), "{method}: {reply}");
    reply["result"].clone()
}

fn hex_number(value: &Value) -> u128 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not hex"));
    u128::from_str_radix(text.trim_start_matches("0x"), 16).expect("hex number")
}

/// A wallet on anvil: deployment, broadcaster, funded MPC address.
struct Setup {
    anvil: Anvil,
    deployment: Deployment,
    _broadcaster: Worker,
    address: String,
}

impl Setup {
    fn start(anvil_args: &[&str]) -> Setup {
        let anvil = Anvil::start_with(anvil_args);
        let deployment = Deployment::start();
        let broadcaster = deployment.start_broadcaster(&anvil.url());
        let address = deployment.keygen(SHARE)["address"]
            .as_str()
            .expect("keygen address")
            .to_owned();
        // One ether, set directly: funding needs no mining.
        node(
            &anvil.url(),
            "anvil_setBalance",
            json!([address, "0xde0b6b3a7640000"]),
        );
        Setup {
            anvil,
            deployment,
            _broadcaster: broadcaster,
            address,
        }
    }

    fn env(&self) -> [(&'static str, String); 1] {
        [("MPC_RPC_URL", self.anvil.url())]
    }

    fn ok(&self, args: &[&str]) -> Value {
        let [(key, url)] = self.env();
        self.deployment.mpc_ok_env(&[(key, &url)], args)
    }

    fn err(&self, args: &[&str]) -> (i32, Value) {
        let [(key, url)] = self.env();
        let (exit, json, _) = self.deployment.mpc_err_env(&[(key, &url)], args);
        (exit, json)
    }

    fn node(&self, method: &str, params: Value) -> Value {
        node(&self.anvil.url(), method, params)
    }

    fn balance_of(&self, address: &str) -> u128 {
        hex_number(&self.node("eth_getBalance", json!([address, "latest"])))
    }

    /// `mpc send --no-wait` of 1000 wei, then until the broadcaster has handed
    /// it to the (not mining) node, which `mpc tx status` sees as pending.
    fn send_pending(&self) -> String {
        let sent = self.ok(&["send", "--to", RECIPIENT, "--value", "1000", "--no-wait"]);
        assert_eq!(sent["status"], "queued", "{sent}");
        let hash = sent["tx_hash"].as_str().expect("tx_hash").to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self
            .node("eth_getTransactionByHash", json!([hash]))
            .is_null()
        {
            assert!(
                Instant::now() < deadline,
                "the broadcaster did not send {hash}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(self.ok(&["tx", "status", &hash])["status"], "pending");
        hash
    }

    /// Mines one block and returns `hash`'s receipt from it: the replacement
    /// reached the node's pool directly, so that block holds it.
    fn mine_receipt(&self, hash: &str) -> Value {
        self.node("evm_mine", json!([]));
        let receipt = self.node("eth_getTransactionReceipt", json!([hash]));
        assert!(!receipt.is_null(), "{hash} not in the mined block");
        receipt
    }

    /// Runs the README's "Wallet commands" block with `sh -e` in the
    /// deployment's folder, `mpc` on the PATH and the client's environment.
    fn run_readme_block(&self, vars: &[(&str, &str)]) {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(readme).expect("README.md");
        let section = &readme[readme.find("### Wallet commands").expect("the section")..];
        let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
        let block = &section[start..start + section[start..].find("```").expect("block end")];
        let d = &self.deployment;
        let path = format!(
            "{}:{}",
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let output = std::process::Command::new("sh")
            .args(["-e", "-c", block])
            .env_clear()
            .env("PATH", path)
            .env("MPC_NATS_URL", d.nats.url(Role::Client))
            .env("MPC_HOME", d.path("client-home"))
            .env("MPC_PASSPHRASE", CLIENT_PASSPHRASE)
            .env("MPC_RPC_URL", self.anvil.url())
            .envs(vars.iter().copied())
            .current_dir(d.dir.path())
            .output()
            .expect("run sh");
        assert!(
            output.status.success(),
            "README block failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn init_code() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/minimal_erc20.hex");
    std::fs::read_to_string(path)
        .expect("token fixture")
        .trim()
        .to_owned()
}

#[test]
fn send_balance_nonce_status_deploy_and_token_transfer_on_anvil() {
    let s = Setup::start(&[]);
    let balance = s.ok(&["balance", "--share", SHARE]);
    assert_eq!(
        (&balance["balance"], &balance["amount"], &balance["address"]),
        (
            &json!("1000000000000000000"),
            &json!("1"),
            &json!(s.address)
        )
    );
    assert_eq!(s.ok(&["nonce", "--share", SHARE])["nonce"], 0);

    // Ether with units, in one step: mined, and exactly 0.01 ether arrived.
    let sent = s.ok(&[
        "send",
        "--share",
        SHARE,
        "--to",
        RECIPIENT,
        "--value",
        "0.01ether",
    ]);
    assert_eq!(sent["status"], "success", "{sent}");
    assert_eq!(
        (&sent["from"], &sent["nonce"]),
        (&json!(s.address), &json!(0))
    );
    assert_eq!(s.balance_of(RECIPIENT), 10_000_000_000_000_000);
    assert_eq!(s.ok(&["nonce"])["nonce"], 1);
    let hash = sent["tx_hash"].as_str().unwrap();
    let status = s.ok(&["tx", "status", hash]);
    assert_eq!(
        (&status["status"], &status["block_number"], &status["from"]),
        (&json!("success"), &sent["block_number"], &json!(s.address))
    );
    assert_eq!(status["gas_used"], 21000);

    // Contract creation: no --to, the init code as --data.
    let deployed = s.ok(&["send", "--data", &init_code()]);
    assert_eq!(deployed["status"], "success", "{deployed}");
    let token = deployed["contract_address"]
        .as_str()
        .expect("contract_address");
    let code = s.node("eth_getCode", json!([token, "latest"]));
    assert!(code.as_str().unwrap().len() > 2, "no code at {token}");
    let tokens = s.ok(&["balance", "--token", token]);
    // The fixture credits its deployer with 10^24 units and has no decimals().
    assert_eq!(
        (&tokens["balance"], &tokens["decimals"], &tokens["token"]),
        (
            &json!("1000000000000000000000000"),
            &Value::Null,
            &json!(token)
        )
    );

    // ERC-20: --amount is raw token units.
    let transfer = s.ok(&[
        "send", "--erc20", token, "--to", RECIPIENT, "--amount", "250",
    ]);
    assert_eq!(transfer["status"], "success", "{transfer}");
    assert_eq!(
        s.ok(&["balance", "--token", token])["balance"],
        "999999999999999999999750"
    );

    // Bad paths: each fails before anything is sent, with its exit code.
    let code_of = |args: &[&str]| {
        let (exit, json) = s.err(args);
        (
            exit,
            json["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let (exit, _) = code_of(&["send", "--to", RECIPIENT, "--value", "1.5"]);
    assert_eq!(exit, 3, "decimals without a unit are refused");
    assert_eq!(
        code_of(&["send", "--value", "1wei"]),
        (2, "usage".to_owned())
    );
    assert_eq!(
        code_of(&["tx", "status", "0x1234"]),
        (3, "invalid_tx_hash".to_owned())
    );
    let unknown = format!("0x{}", "ab".repeat(32));
    assert_eq!(
        code_of(&["tx", "status", &unknown]),
        (7, "unknown_transaction".to_owned())
    );
    assert_eq!(
        code_of(&["tx", "speed-up", hash]),
        (7, "already_mined".to_owned())
    );
    assert_eq!(
        code_of(&["balance", "--token", "0x12"]),
        (3, "invalid_address".to_owned())
    );
    assert_eq!(s.ok(&["nonce"])["nonce"], 3, "no bad path sent anything");
    let down = [("MPC_RPC_URL", "http://127.0.0.1:9")];
    let (exit, _, _) = s.deployment.mpc_err_env(&down, &["balance"]);
    assert_eq!(exit, 7, "an unreachable RPC is a chain error");

    // The README's block runs as written, with its two variables set.
    let before = s.balance_of(RECIPIENT);
    std::fs::write(s.deployment.path("init_code.hex"), init_code()).unwrap();
    s.run_readme_block(&[("TOKEN", token), ("TX", hash)]);
    assert_eq!(s.balance_of(RECIPIENT) - before, 10_000_000_000_000_000);
    assert_eq!(s.ok(&["nonce"])["nonce"], 6, "three more sends");
    let script = std::fs::read_to_string(s.deployment.path("mpc.bash")).unwrap();
    assert!(script.contains("speed-up"), "completions written");
}

#[test]
fn speed_up_replaces_a_pending_transaction_with_higher_fees() {
    let s = Setup::start(&["--no-mining"]);
    let original = s.send_pending();
    // Read before the replacement: the node's pool forgets what it replaced.
    let before = s.node("eth_getTransactionByHash", json!([original]));
    let faster = s.ok(&["tx", "speed-up", &original, "--no-wait"]);
    assert_eq!(faster["replaces"], json!(original));
    // The broadcaster was still on the original: it leaves the queue, so no
    // restart can send it again.
    assert_eq!(faster["original_dropped_from_queue"], true);
    let queued = s.ok(&["queue", "ls"]);
    assert!(
        !queued["queued"].to_string().contains(&original),
        "{queued}"
    );
    assert_eq!(faster["nonce"], 0);
    let new_hash = faster["tx_hash"].as_str().unwrap().to_owned();
    let fee = |tx: &Value, key: &str| hex_number(&tx[key]);
    let after = s.node("eth_getTransactionByHash", json!([new_hash]));
    for key in ["maxFeePerGas", "maxPriorityFeePerGas"] {
        assert!(
            fee(&after, key) * 10 >= fee(&before, key) * 11,
            "{key} not raised by 10%: {before} -> {after}"
        );
    }
    let receipt = s.mine_receipt(&new_hash);
    assert_eq!(receipt["status"], "0x1");
    assert!(s
        .node("eth_getTransactionReceipt", json!([original]))
        .is_null());
    assert_eq!(s.ok(&["tx", "status", &new_hash])["status"], "success");
    assert_eq!(s.balance_of(RECIPIENT), 1000);
}

#[test]
fn a_queued_transaction_is_listed_and_dropped_before_any_broadcaster_sends_it() {
    let anvil = Anvil::start();
    let d = Deployment::start();
    let address = d.keygen(SHARE)["address"].as_str().unwrap().to_owned();
    node(
        &anvil.url(),
        "anvil_setBalance",
        json!([address, "0xde0b6b3a7640000"]),
    );
    let env = [("MPC_RPC_URL", anvil.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No broadcaster runs yet: the transaction waits in the queue.
    let send = ["send", "--to", RECIPIENT, "--value", "1000", "--no-wait"];
    let hash = d.mpc_ok_env(&env, &send)["tx_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = d.mpc_ok(&["queue", "ls"]);
    let entry = &listed["queued"][0];
    assert_eq!(
        (
            &entry["tx_hash"],
            &entry["from"],
            &entry["nonce"],
            &entry["in_flight"]
        ),
        (&json!(hash), &json!(address), &json!(0), &json!(false)),
        "{listed}"
    );
    let dropped = d.mpc_ok(&["queue", "drop", &hash]);
    assert_eq!(dropped["dropped"]["tx_hash"], json!(hash));
    assert_eq!(d.mpc_ok(&["queue", "ls"])["queued"], json!([]));
    let (exit, error, _) = d.mpc_err(&["queue", "drop", &hash]);
    assert_eq!((exit, &error["error"]["code"]), (3, &json!("not_queued")));
    assert_eq!(d.mpc_err(&["queue", "drop", "0x12"]).0, 3);

    // A broadcaster started now has nothing of it to send: the next
    // transaction takes nonce 0, and the dropped one never reaches the node.
    let _broadcaster = d.start_broadcaster(&anvil.url());
    let next = d.mpc_ok_env(&env, &["send", "--to", RECIPIENT, "--value", "2000"]);
    assert_eq!(
        (next["status"].as_str(), &next["nonce"]),
        (Some("success"), &json!(0)),
        "{next}"
    );
    assert!(node(&anvil.url(), "eth_getTransactionByHash", json!([hash])).is_null());
    let balance = node(&anvil.url(), "eth_getBalance", json!([RECIPIENT, "latest"]));
    assert_eq!(hex_number(&balance), 2000);
}

#[test]
fn cancel_mines_a_zero_transfer_to_self_in_place_of_the_pending_one() {
    let s = Setup::start(&["--no-mining"]);
    let original = s.send_pending();
    let cancel = s.ok(&["tx", "cancel", &original, "--no-wait"]);
    assert_eq!(cancel["replaces"], json!(original));
    let hash = cancel["tx_hash"].as_str().unwrap().to_owned();
    let receipt = s.mine_receipt(&hash);
    assert_eq!(receipt["status"], "0x1");
    let mined = s.node("eth_getTransactionByHash", json!([hash]));
    assert_eq!(
        (
            mined["to"].as_str().map(str::to_lowercase),
            &mined["value"],
            &mined["nonce"]
        ),
        (Some(s.address.to_lowercase()), &json!("0x0"), &json!("0x0"))
    );
    assert!(s
        .node("eth_getTransactionReceipt", json!([original]))
        .is_null());
    assert_eq!(s.balance_of(RECIPIENT), 0, "the original never ran");
}

#[test]
fn completions_name_the_wallet_commands() {
    // Completions need no broker, co-signer or node.
    let run = |args: &[&str]| {
        std::process::Command::new(mpc_e2e::binary("mpc"))
            .args(args)
            .output()
            .expect("run mpc")
    };
    let output = run(&["completions", "bash"]);
    assert!(output.status.success());
    let script = String::from_utf8(output.stdout).expect("text");
    for command in [
        "send",
        "balance",
        "nonce",
        "speed-up",
        "cancel",
        "completions",
    ] {
        assert!(script.contains(command), "bash completion lacks {command}");
    }
    let args = ["completions", "zsh", "--json"];
    let json = mpc_e2e::parse_success(&args, &run(&args));
    assert_eq!(json["shell"], "zsh");
    assert!(json["script"].as_str().unwrap().contains("#compdef mpc"));
}
