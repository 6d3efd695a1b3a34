//! The co-signer's policy file end to end: the real `mpc-cosigner` started
//! with the README's `policy.toml` as written, the real `mpc` CLI, `mpc
//! serve`, broadcaster and nats-server, against a real anvil. One
//! deployment, node and broadcaster serve every step; each refusal is
//! checked where a user meets it (exit 8 and `policy_refused`, HTTP 403,
//! JSON-RPC 4001) and by the rule it names.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mpc_e2e::api::{Api, SHARE};
use mpc_e2e::{
    binary, readme_block_of, Anvil, Deployment, ANVIL_DEV_ADDRESS, COSIGNER_PASSPHRASE,
    SEPOLIA_CHAIN_ID,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
/// On no list of the README's policy.
const STRANGER: &str = "0x4444444444444444444444444444444444444444";
/// The README's token: the first contract anvil's dev account deploys.
const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
/// The wallet the README's policy gives its own daily limit.
const README_WALLET: &str = "9ba3bea5-7f2c-4c1e-9d51-3f0c2a7e6b10";
const HEADING: &str = "### Co-signer policy";

/// The node, read and driven directly (anvil's unlocked dev account).
struct Node {
    url: String,
    http: reqwest::blocking::Client,
}

impl Node {
    fn call(&self, method: &str, params: Value) -> Value {
        let reply: Value = self
            .http
            .post(&self.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert!(reply["error"].is_null(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// `eth_sendTransaction` from the dev account, mined successfully.
    fn send_from_dev(&self, mut tx: Value) -> Value {
        tx["from"] = ANVIL_DEV_ADDRESS.into();
        let hash = self.call("eth_sendTransaction", json!([tx]));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let receipt = self.call("eth_getTransactionReceipt", json!([hash]));
            if !receipt.is_null() {
                assert_eq!(receipt["status"], "0x1", "{tx}: {receipt}");
                return receipt;
            }
            assert!(Instant::now() < deadline, "{tx} not mined within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn token_balance(&self, owner: &str) -> u128 {
        let data = format!("0x70a08231{:0>64}", owner.trim_start_matches("0x"));
        let out = self.call("eth_call", json!([{"to": TOKEN, "data": data}, "latest"]));
        u128::from_str_radix(out.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }
}

/// Everything the steps share.
struct Setup {
    anvil: Anvil,
    node: Node,
    deployment: Deployment,
    policy: PathBuf,
    wallet_id: String,
}

impl Setup {
    fn env(&self) -> [(&'static str, String); 1] {
        [("MPC_RPC_URL", self.anvil.url())]
    }

    fn ok(&self, args: &[&str]) -> Value {
        let [(key, url)] = self.env();
        self.deployment.mpc_ok_env(&[(key, &url)], args)
    }

    /// Runs `mpc <args>` expecting the co-signer's policy to refuse it by `rule`.
    fn refused(&self, args: &[&str], rule: &str) -> String {
        let [(key, url)] = self.env();
        let (exit, json, _) = self.deployment.mpc_err_env(&[(key, &url)], args);
        assert_eq!(exit, 8, "{args:?}: {json}");
        assert_eq!(json["error"]["code"], "policy_refused", "{json}");
        let message = json["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(&format!("rule {rule}: ")), "{message}");
        message
    }

    fn send(&self, to: &str, value: &str) -> Vec<String> {
        ["send", "--share", SHARE, "--to", to, "--value", value]
            .map(str::to_owned)
            .to_vec()
    }

    /// `mpc-cosigner --policy <file> policy <args> --json`: (exit, JSON).
    fn policy_command(&self, args: &[&str]) -> (i32, Value) {
        let output = Command::new(binary("mpc-cosigner"))
            .arg("--data-dir")
            .arg(self.deployment.cosigner_data())
            .arg("--policy")
            .arg(&self.policy)
            .arg("policy")
            .args(args)
            .env("MPC_CHAIN_ID", SEPOLIA_CHAIN_ID.to_string())
            .env("MPC_KEY_SOURCE", "passphrase")
            .env("MPC_PASSPHRASE", COSIGNER_PASSPHRASE)
            .output()
            .expect("run mpc-cosigner policy");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "policy {args:?} printed no JSON ({e}): {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().expect("an exit code"), json)
    }

    fn write(&self, name: &str, value: &Value) -> PathBuf {
        let path = self.deployment.path(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    }

    /// Writes the policy file and sends the co-signer SIGHUP; returns once
    /// its log shows the reload's outcome (`expect` appearing once more).
    fn reload(&self, text: &str, expect: &str) {
        let before = self.deployment.cosigner.logs().matches(expect).count();
        std::fs::write(&self.policy, text).unwrap();
        let pid = self.deployment.cosigner.pid().to_string();
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success(), "kill -HUP {pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.deployment.cosigner.logs().matches(expect).count() == before {
            assert!(
                Instant::now() < deadline,
                "no {expect:?} in the co-signer's log: {}",
                self.deployment.cosigner.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn args(owned: &[String]) -> Vec<&str> {
    owned.iter().map(String::as_str).collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The EIP's Mail example on `chain_id`, or naming no chain at all.
fn mail(chain_id: Option<u64>) -> Value {
    let text = std::fs::read_to_string(fixture("eip712_mail.json")).unwrap();
    let mut document: Value = serde_json::from_str(&text).unwrap();
    match chain_id {
        Some(chain_id) => document["domain"]["chainId"] = chain_id.into(),
        None => {
            document["domain"]
                .as_object_mut()
                .unwrap()
                .remove("chainId");
            document["types"]["EIP712Domain"]
                .as_array_mut()
                .unwrap()
                .retain(|field| field["name"] != "chainId");
        }
    }
    document
}

#[test]
fn the_cosigner_signs_only_what_the_readme_policy_allows() {
    let started = Instant::now();
    let anvil = Anvil::start();
    let node = Node {
        url: anvil.url(),
        http: reqwest::blocking::Client::new(),
    };
    let code = std::fs::read_to_string(fixture("minimal_erc20.hex")).unwrap();
    let deployed = node.send_from_dev(json!({"data": code.trim(), "gas": "0x7a120"}));
    assert_eq!(
        deployed["contractAddress"].as_str().unwrap().to_lowercase(),
        TOKEN.to_lowercase(),
        "the README's token address is the dev account's first contract"
    );

    let policy_dir = tempfile::tempdir().unwrap();
    let policy = policy_dir.path().join("policy.toml");
    std::fs::write(&policy, readme_block_of(HEADING, "toml")).unwrap();
    let deployment = Deployment::start_with_cosigner_args(&["--policy", policy.to_str().unwrap()]);
    let _broadcaster = deployment.start_broadcaster(&anvil.url());
    let keygen = deployment.keygen(SHARE);
    let address = keygen["address"].as_str().unwrap().to_owned();
    let wallet_id = keygen["wallet_id"].as_str().unwrap().to_owned();
    node.call("anvil_setBalance", json!([address, "0x8ac7230489e80000"])); // 10 ether
    let fund = format!(
        "0xa9059cbb{:0>64}{:064x}",
        address.trim_start_matches("0x"),
        1000
    );
    node.send_from_dev(json!({"to": TOKEN, "data": fund}));

    let mut setup = Setup {
        anvil,
        node,
        deployment,
        policy,
        wallet_id,
    };
    erc20_transfers_go_only_to_allowed_recipients(&setup);
    permits_and_typed_data_follow_the_domain_and_spender_rules(&setup);
    the_daily_limit_refuses_and_holds_across_a_restart(&mut setup);
    policy_check_and_show_answer_without_signing(&setup);
    the_api_refuses_with_403_and_json_rpc_4001(&setup);
    the_policy_file_reloads_on_sighup(&setup);
    eprintln!("policy e2e took {:?}", started.elapsed());
}

fn erc20_transfers_go_only_to_allowed_recipients(s: &Setup) {
    let erc20 = |to: &str| {
        [
            "send", "--share", SHARE, "--erc20", TOKEN, "--to", to, "--amount", "250",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let sent = s.ok(&args(&erc20(RECIPIENT)));
    assert_eq!(sent["status"], "success", "{sent}");
    assert_eq!(s.node.token_balance(RECIPIENT), 250);
    let message = s.refused(&args(&erc20(STRANGER)), "tx.recipients_allow");
    assert!(
        message.contains(&STRANGER.to_lowercase()) || message.contains(STRANGER),
        "{message}"
    );
    assert_eq!(s.node.token_balance(STRANGER), 0);
}

fn permits_and_typed_data_follow_the_domain_and_spender_rules(s: &Setup) {
    let sign = |name: &str, document: &Value| {
        let path = s.write(name, document);
        [
            "sign",
            "--share",
            SHARE,
            "--typed-data",
            path.to_str().unwrap(),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    // EIP-2612 on the README's token, to a spender it does not list.
    let permit = json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"}
            ]
        },
        "primaryType": "Permit",
        "domain": {"name": "Token", "chainId": SEPOLIA_CHAIN_ID, "verifyingContract": TOKEN},
        "message": {"owner": RECIPIENT, "spender": STRANGER, "value": "10", "nonce": 0, "deadline": 1}
    });
    s.refused(&args(&sign("permit.json", &permit)), "tokens.spenders");

    // The README's Mail domain signs on the wallet's chain, never on another.
    let signed = s.ok(&args(&sign("mail.json", &mail(Some(SEPOLIA_CHAIN_ID)))));
    assert!(signed["signature"].is_string(), "{signed}");
    // Another chain is refused by the floor already, before any session.
    let [(key, url)] = s.env();
    let mainnet = sign("mail1.json", &mail(Some(1)));
    let (exit, json, _) = s.deployment.mpc_err_env(&[(key, &url)], &args(&mainnet));
    assert_eq!(
        (exit, &json["error"]["code"]),
        (3, &json!("invalid_payload")),
        "{json}"
    );
    // With a policy, a domain must name the chain.
    let message = s.refused(
        &args(&sign("mail-no-chain.json", &mail(None))),
        "typed_data.chain_id",
    );
    assert!(message.contains("chainId none"), "{message}");
}

fn the_daily_limit_refuses_and_holds_across_a_restart(s: &mut Setup) {
    // Above the per-transaction maximum.
    s.refused(&args(&s.send(RECIPIENT, "0.6ether")), "tx.max_value");
    // 3 × 0.3 ETH (plus gas) is within the 1 ETH of 24 h; a fourth is not.
    for _ in 0..3 {
        let sent = s.ok(&args(&s.send(RECIPIENT, "0.3ether")));
        assert_eq!(sent["status"], "success", "{sent}");
    }
    let message = s.refused(&args(&s.send(RECIPIENT, "0.3ether")), "tx.daily_limit");
    assert!(
        message.contains("ETH spent in 24 h would exceed 1 ETH"),
        "{message}"
    );
    assert!(message.contains("rule tx.daily_limit: 1.2"), "{message}");

    s.deployment.cosigner.kill();
    s.deployment.restart_cosigner();
    s.refused(&args(&s.send(RECIPIENT, "0.3ether")), "tx.daily_limit");
    // What is left of the limit can still be spent.
    let sent = s.ok(&args(&s.send(RECIPIENT, "0.05ether")));
    assert_eq!(sent["status"], "success", "{sent}");
}

fn policy_check_and_show_answer_without_signing(s: &Setup) {
    let tx = |value: &str| {
        json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 99, "to": RECIPIENT, "value": value,
               "gas_limit": 21000, "max_fee_per_gas": "2gwei", "max_priority_fee_per_gas": "1gwei"})
    };
    let over = s.write("over.json", &tx("0.3ether"));
    let wallet = s.wallet_id.as_str();
    let check = ["check", "--wallet", wallet, "--json"];
    let (exit, refused) =
        s.policy_command(&[&check[..], &["--tx", over.to_str().unwrap()]].concat());
    assert_eq!(exit, 8, "{refused}");
    assert_eq!(refused["allowed"], false, "{refused}");
    assert_eq!(refused["rule"], "tx.daily_limit", "{refused}");
    assert!(
        refused["value"].as_str().unwrap().ends_with(" ETH"),
        "{refused}"
    );

    let small = s.write("small.json", &tx("1000"));
    let (exit, allowed) =
        s.policy_command(&[&check[..], &["--tx", small.to_str().unwrap()]].concat());
    assert_eq!((exit, &allowed["allowed"]), (0, &json!(true)), "{allowed}");
    // Checking counted nothing: the same small transfer is still allowed.
    let (exit, _) = s.policy_command(&[&check[..], &["--tx", small.to_str().unwrap()]].concat());
    assert_eq!(exit, 0);

    let long = "x".repeat(1025);
    let (exit, message) = s.policy_command(&[&check[..], &["--message", &long]].concat());
    assert_eq!(
        (exit, &message["rule"]),
        (8, &json!("message.max_length")),
        "{message}"
    );
    let mail = s.write("mail-check.json", &mail(None));
    let (exit, typed) =
        s.policy_command(&[&check[..], &["--typed-data", mail.to_str().unwrap()]].concat());
    assert_eq!(
        (exit, &typed["rule"]),
        (8, &json!("typed_data.chain_id")),
        "{typed}"
    );

    let (exit, global) = s.policy_command(&["show"]);
    assert_eq!(exit, 0, "{global}");
    assert_eq!(global["rules"]["tx"]["daily_limit"], "1000000000000000000");
    assert_eq!(global["rules"]["max_signatures_per_minute"], 30);
    let (_, own) = s.policy_command(&["show", "--wallet", README_WALLET]);
    assert_eq!(own["wallet"], README_WALLET);
    assert_eq!(own["rules"]["tx"]["daily_limit"], "2000000000000000000");
    assert_eq!(
        own["rules"]["tx"]["max_value"],
        global["rules"]["tx"]["max_value"]
    );
}

fn the_api_refuses_with_403_and_json_rpc_4001(s: &Setup) {
    let [(key, url)] = s.env();
    let api = Api::start(&s.deployment, &[(key, &url)]);
    let why = api.err(
        "/tx/sign",
        json!({"typed_data": mail(None)}),
        StatusCode::FORBIDDEN,
        "policy_refused",
    );
    assert!(why.contains("rule typed_data.chain_id"), "{why}");

    let from = s.ok(&["address", "--share", SHARE])["address"].clone();
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction",
        "params": [{"from": from, "to": RECIPIENT, "value": "0x429d069189e0000"}]}); // 0.3 ether
    let reply: Value = api
        .authed(api.http.post(api.url("/rpc")))
        .json(&request)
        .send()
        .and_then(|r| r.json())
        .expect("a JSON-RPC reply");
    let error = &reply["error"];
    assert_eq!(error["code"], 4001, "{reply}");
    assert_eq!(error["data"]["code"], "policy_refused", "{reply}");
    assert_eq!(error["data"]["rule"], "tx.daily_limit", "{reply}");
    assert!(
        error["data"]["value"].as_str().unwrap().ends_with(" ETH"),
        "{reply}"
    );
}

fn the_policy_file_reloads_on_sighup(s: &Setup) {
    let readme = readme_block_of(HEADING, "toml");
    let hello = ["sign", "--share", SHARE, "--message", "hello"];
    s.ok(&hello);

    let off = readme.replace("allowed = true", "allowed = false");
    assert_ne!(off, readme, "the README's policy allows messages");
    s.reload(&off, "policy reloaded");
    s.refused(&hello, "message.allowed");

    // A file that does not validate is logged; the policy in force stays.
    let broken = off.replace("[message]", "[message]\nallowd = true");
    s.reload(&broken, "the policy file was not reloaded");
    assert!(s.deployment.cosigner.logs().contains("allowd"));
    s.refused(&hello, "message.allowed");

    s.reload(&readme, "policy reloaded");
    s.ok(&hello);
}
