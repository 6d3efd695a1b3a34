//! The JSON-RPC endpoint of `mpc serve` driven by the tools people point at
//! a node: Foundry's `cast`, viem, ethers v6 and web3.py, each the real
//! package installed by `scripts/install-tools` (`.tools/bin/cast`,
//! `.tools/npm/node_modules`, `.tools/bin/python3`). Each one sends a
//! transfer and waits for it, and signs a personal message and EIP-712
//! typed data, all through the endpoint with the bearer token. What they
//! report is then checked independently: transactions and balances against
//! anvil itself (`anvil_url`, not through the wallet), signatures recovered
//! here with alloy. A tool that is not installed fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use alloy::dyn_abi::TypedData;
use alloy::primitives::{Address, B256, U256};
use serde_json::{json, Value};

use super::{address, signature, Endpoint};

/// A fresh recipient per tool (the tools run in parallel on one chain), so
/// each one's balance on anvil is exactly what that tool sent.
const CAST_RECIPIENT: &str = "0x4545454545454545454545454545454545454545";
const VIEM_RECIPIENT: &str = "0x5656565656565656565656565656565656565656";
const ETHERS_RECIPIENT: &str = "0x6767676767676767676767676767676767676767";
const WEB3PY_RECIPIENT: &str = "0x7878787878787878787878787878787878787878";
const CHAIN_ID: u64 = 11_155_111;
/// 0.01 ether, what every tool sends.
const CENTI_ETHER: u128 = 10_000_000_000_000_000;

/// `cast send --unlocked` of an ether transfer, an ERC-20 deployment
/// (`tests/fixtures/minimal_erc20.hex`) and a token transfer, from
/// `accounts[0]` (the master address), then `cast call`, `cast balance`,
/// `cast receipt`, `cast nonce`, `cast chain-id` and `cast rpc eth_accounts`,
/// all through the endpoint.
pub fn cast(endpoint: &Endpoint) {
    let started = Instant::now();
    let from = endpoint.accounts[0];
    let recipient: Address = CAST_RECIPIENT.parse().unwrap();
    let from_arg = from.to_string();
    let cast = Cast::new(endpoint);

    assert_eq!(cast.run(&["chain-id"]), CHAIN_ID.to_string());
    let accounts: Vec<Address> = serde_json::from_str(&cast.run(&["rpc", "eth_accounts"]))
        .expect("cast rpc eth_accounts prints a JSON array of addresses");
    assert_eq!(accounts, endpoint.accounts, "eth_accounts through cast");

    // An ether transfer, mined.
    let sent = cast.json(&[
        "send",
        "--unlocked",
        "--from",
        &from_arg,
        CAST_RECIPIENT,
        "--value",
        "0.01ether",
        "--json",
    ]);
    assert_eq!(sent["status"], "0x1", "cast send: {sent}");
    assert_eq!(address(&sent["from"]), from, "{sent}");
    let transfer_hash = sent["transactionHash"].as_str().expect("transactionHash");
    assert_mined_from(endpoint, transfer_hash, from);
    assert_eq!(
        anvil_balance(endpoint, recipient),
        U256::from(CENTI_ETHER),
        "the recipient's balance on anvil"
    );
    assert_eq!(
        cast.run(&["balance", CAST_RECIPIENT]),
        CENTI_ETHER.to_string()
    );
    let receipt = cast.json(&["receipt", transfer_hash, "--json"]);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["transactionHash"], transfer_hash, "{receipt}");

    // A contract creation: --create with the token's init code.
    let init_code = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/minimal_erc20.hex"),
    )
    .expect("tests/fixtures/minimal_erc20.hex");
    let deployed = cast.json(&[
        "send",
        "--unlocked",
        "--from",
        &from_arg,
        "--create",
        init_code.trim(),
        "--json",
    ]);
    assert_eq!(deployed["status"], "0x1", "cast send --create: {deployed}");
    let token = address(&deployed["contractAddress"]);
    assert_mined_from(
        endpoint,
        deployed["transactionHash"].as_str().unwrap(),
        from,
    );
    let code = anvil(endpoint, "eth_getCode", json!([token, "latest"]));
    assert!(
        code.as_str().is_some_and(|code| code.len() > 2),
        "no code at {token} on anvil: {code}"
    );
    let token_arg = token.to_string();

    // A token transfer, and its balance read back through the endpoint.
    let moved = cast.json(&[
        "send",
        "--unlocked",
        "--from",
        &from_arg,
        &token_arg,
        "transfer(address,uint256)",
        CAST_RECIPIENT,
        "1000",
        "--json",
    ]);
    assert_eq!(moved["status"], "0x1", "cast send transfer: {moved}");
    assert_eq!(
        moved["logs"].as_array().map(Vec::len),
        Some(1),
        "one Transfer event: {moved}"
    );
    assert_mined_from(endpoint, moved["transactionHash"].as_str().unwrap(), from);
    assert_eq!(
        cast.run(&[
            "call",
            &token_arg,
            "balanceOf(address)(uint256)",
            CAST_RECIPIENT
        ]),
        "1000"
    );
    // balanceOf(recipient) asked of anvil itself.
    let call_data = format!("0x70a08231{:0>64}", &CAST_RECIPIENT[2..]);
    let balance = anvil(
        endpoint,
        "eth_call",
        json!([{"to": token, "data": call_data}, "latest"]),
    );
    assert_eq!(
        balance
            .as_str()
            .and_then(|b| U256::from_str_radix(&b[2..], 16).ok()),
        Some(U256::from(1000)),
        "balanceOf on anvil: {balance}"
    );
    // The account's nonce through the endpoint is anvil's: at least the
    // three transactions sent here.
    let nonce: u64 = cast
        .run(&["nonce", &from_arg])
        .parse()
        .expect("cast nonce prints a number");
    assert!(nonce >= 3, "cast nonce {nonce}");
    assert_eq!(
        anvil(endpoint, "eth_getTransactionCount", json!([from, "latest"])),
        format!("{nonce:#x}")
    );
    eprintln!("cast: passed in {:.1?}", started.elapsed());
}

/// `tests/fixtures/rpc/viem.mjs` from `accounts[1]`: createWalletClient on
/// an http transport with the Authorization header, sendTransaction and
/// waitForTransactionReceipt, signMessage / verifyMessage, signTypedData /
/// verifyTypedData.
pub fn viem(endpoint: &Endpoint) {
    let started = Instant::now();
    let from = endpoint.accounts[1];
    let out = run_fixture(node("viem.mjs"), endpoint, from, VIEM_RECIPIENT, "viem");
    assert_eq!(out["status"], "success", "{out}");
    assert_eq!(out["message_valid"], true, "viem's verifyMessage: {out}");
    assert_eq!(out["typed_valid"], true, "viem's verifyTypedData: {out}");
    let accounts: Vec<Address> = serde_json::from_value(out["accounts"].clone()).expect("accounts");
    assert_eq!(accounts, endpoint.accounts, "getAddresses (eth_accounts)");
    check_common(endpoint, &out, from, VIEM_RECIPIENT);
    eprintln!("viem: passed in {:.1?}", started.elapsed());
}

/// `tests/fixtures/rpc/ethers.mjs` from `accounts[2]`: JsonRpcProvider on a
/// FetchRequest with the Authorization header, getSigner (which checks
/// eth_accounts), sendTransaction + wait(), signMessage / verifyMessage,
/// signTypedData / verifyTypedData.
pub fn ethers(endpoint: &Endpoint) {
    let started = Instant::now();
    let from = endpoint.accounts[2];
    let out = run_fixture(
        node("ethers.mjs"),
        endpoint,
        from,
        ETHERS_RECIPIENT,
        "ethers",
    );
    assert_eq!(out["status"], 1, "{out}");
    assert_eq!(out["chain_id"], CHAIN_ID, "{out}");
    assert_eq!(
        address(&out["message_signer"]),
        from,
        "ethers.verifyMessage: {out}"
    );
    assert_eq!(
        address(&out["typed_signer"]),
        from,
        "ethers.verifyTypedData: {out}"
    );
    check_common(endpoint, &out, from, ETHERS_RECIPIENT);
    eprintln!("ethers: passed in {:.1?}", started.elapsed());
}

/// `tests/fixtures/rpc/web3_check.py` from `accounts[3]`: HTTPProvider with
/// the Authorization header, eth.send_transaction +
/// wait_for_transaction_receipt, personal_sign and eth_signTypedData_v4 by
/// make_request, recovered with eth-account.
pub fn web3py(endpoint: &Endpoint) {
    let started = Instant::now();
    let from = endpoint.accounts[3];
    let python = installed("python3");
    let mut command = Command::new(&python);
    command.arg(fixture("web3_check.py"));
    let out = run_fixture(command, endpoint, from, WEB3PY_RECIPIENT, "web3.py");
    assert_eq!(out["status"], 1, "{out}");
    assert_eq!(out["chain_id"], CHAIN_ID, "{out}");
    let accounts: Vec<Address> = serde_json::from_value(out["accounts"].clone()).expect("accounts");
    assert_eq!(accounts, endpoint.accounts, "w3.eth.accounts");
    assert_eq!(
        address(&out["message_signer"]),
        from,
        "eth-account recover_message: {out}"
    );
    assert_eq!(
        address(&out["typed_signer"]),
        from,
        "eth-account encode_typed_data: {out}"
    );
    check_common(endpoint, &out, from, WEB3PY_RECIPIENT);
    eprintln!("web3.py: passed in {:.1?}", started.elapsed());
}

/// What every script reports: a mined transfer of 0.01 ether from `from`
/// to `recipient` (checked on anvil), and a personal-message and a typed-data
/// signature, both recovered here to `from`.
fn check_common(endpoint: &Endpoint, out: &Value, from: Address, recipient: &str) {
    let recipient: Address = recipient.parse().unwrap();
    assert_eq!(address(&out["from"]), from, "{out}");
    assert_eq!(address(&out["receipt_from"]), from, "{out}");
    assert_eq!(address(&out["receipt_to"]), recipient, "{out}");
    assert_mined_from(endpoint, out["tx_hash"].as_str().expect("tx_hash"), from);
    assert_eq!(
        anvil_balance(endpoint, recipient),
        U256::from(CENTI_ETHER),
        "the recipient's balance on anvil: {out}"
    );

    let message = out["message"].as_str().expect("message");
    assert_eq!(
        signature(&out["message_signature"])
            .recover_address_from_msg(message.as_bytes())
            .unwrap(),
        from,
        "personal_sign of {message:?} recovered with alloy: {out}"
    );

    let typed: TypedData = serde_json::from_value(out["typed_data"].clone())
        .unwrap_or_else(|e| panic!("typed_data is not an EIP-712 document ({e}): {out}"));
    assert_eq!(
        typed.domain.chain_id,
        Some(U256::from(CHAIN_ID)),
        "the domain's chainId: {out}"
    );
    let hash: B256 = typed
        .eip712_signing_hash()
        .expect("the EIP-712 signing hash");
    assert_eq!(
        signature(&out["typed_signature"])
            .recover_address_from_prehash(&hash)
            .unwrap(),
        from,
        "eth_signTypedData_v4 recovered with alloy: {out}"
    );
}

/// The transaction as anvil itself has it: mined with status 1, and sent by
/// `from` (anvil recovers the sender from the signature).
fn assert_mined_from(endpoint: &Endpoint, hash: &str, from: Address) {
    let tx = anvil(endpoint, "eth_getTransactionByHash", json!([hash]));
    assert_eq!(address(&tx["from"]), from, "{hash} on anvil: {tx}");
    let receipt = anvil(endpoint, "eth_getTransactionReceipt", json!([hash]));
    assert_eq!(receipt["status"], "0x1", "{hash} on anvil: {receipt}");
}

fn anvil_balance(endpoint: &Endpoint, address: Address) -> U256 {
    let balance = anvil(endpoint, "eth_getBalance", json!([address, "latest"]));
    balance
        .as_str()
        .and_then(|b| U256::from_str_radix(b.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("eth_getBalance on anvil: {balance}"))
}

/// The README's cast block, run as written by bash with only the endpoint's
/// URL and the `from` account filled in: every command succeeds, the ether
/// transfer is mined from `from`, and the freshly deployed token shows the
/// 1000 transferred.
pub fn readme_cast_block(endpoint: &Endpoint, from: Address) {
    let block = mpc_e2e::readme_block("### Use it from cast, viem, ethers");
    let placeholders = ["http://127.0.0.1:8645/rpc", "FROM=0x…"];
    assert!(placeholders.iter().all(|p| block.contains(p)), "{block}");
    let script = block
        .replace(placeholders[0], &endpoint.url)
        .replace(placeholders[1], &format!("FROM={from}"));
    // The token file and the init code where the block reads them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("http.token"), &endpoint.token).unwrap();
    let init_code = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/minimal_erc20.hex");
    std::fs::copy(init_code, dir.path().join("init_code.hex")).unwrap();
    let tools = mpc_testkit::tool("cast").parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("MPC_HOME", dir.path())
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the README's cast block failed:\n{script}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent: Value = serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the first command prints the receipt as JSON ({e}): {stdout}"));
    assert_eq!(address(&sent["from"]), from, "{sent}");
    assert_mined_from(endpoint, sent["transactionHash"].as_str().unwrap(), from);
    assert!(
        stdout.lines().any(|line| line.trim() == "1000"),
        "balanceOf shows the 1000 transferred: {stdout}"
    );
}

/// One JSON-RPC call to anvil directly, not through the wallet; the
/// answer must not be `null`.
fn anvil(endpoint: &Endpoint, method: &str, params: Value) -> Value {
    let result = endpoint.node(method, params);
    assert!(!result.is_null(), "{method} to anvil: null");
    result
}

/// `.tools/bin/cast` with the endpoint's URL and token on every command.
struct Cast {
    path: PathBuf,
    url: String,
    header: String,
}

impl Cast {
    fn new(endpoint: &Endpoint) -> Cast {
        Cast {
            path: installed("cast"),
            url: endpoint.url.clone(),
            header: format!("Authorization: Bearer {}", endpoint.token),
        }
    }

    /// Runs `cast SUBCOMMAND --rpc-url URL --rpc-headers "Authorization: …"
    /// ARGS…` and returns its trimmed stdout; panics with its stderr on
    /// failure. The flags come first: `send --create CODE` takes every
    /// argument after the code as constructor arguments.
    fn run(&self, args: &[&str]) -> String {
        let (subcommand, rest) = args.split_first().expect("a cast subcommand");
        let mut command = Command::new(&self.path);
        command
            .arg(subcommand)
            .args(["--rpc-url", &self.url, "--rpc-headers", &self.header])
            .args(rest)
            // Only the flags speak: no ETH_RPC_URL or foundry.toml from outside.
            .env_remove("ETH_RPC_URL")
            .env_remove("FOUNDRY_ETH_RPC_URL")
            .current_dir(std::env::temp_dir());
        let output = output(&mut command, &format!("cast {}", args.join(" ")));
        String::from_utf8(output.stdout)
            .expect("utf-8 stdout")
            .trim()
            .to_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.run(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("cast {} printed no JSON ({e}): {stdout}", args.join(" ")))
    }
}

/// `node tests/fixtures/rpc/SCRIPT`, finding viem and ethers in the tools'
/// node_modules through NODE_PATH (the scripts load them with a
/// createRequire'd require, which honours it).
fn node(script: &str) -> Command {
    let modules = node_modules();
    for package in ["viem", "ethers"] {
        assert!(
            modules.join(package).join("package.json").is_file(),
            "{package} is not installed in {}: run scripts/install-tools",
            modules.display()
        );
    }
    let mut command = Command::new("node");
    command.arg(fixture(script)).env("NODE_PATH", modules);
    command
}

/// `.tools/npm/node_modules`, beside the tools' bin directory.
fn node_modules() -> PathBuf {
    let bin = installed("cast");
    bin.parent()
        .and_then(Path::parent)
        .expect("the tools directory")
        .join("npm/node_modules")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/rpc")
        .join(name)
}

/// A tool from `scripts/install-tools`; missing is a failure, never a skip.
fn installed(name: &str) -> PathBuf {
    let path = mpc_testkit::tool(name);
    assert!(
        path.is_file(),
        "{name} is not installed (looked in $MPC_TOOLS_DIR and .tools/bin): run scripts/install-tools"
    );
    path
}

/// Runs a fixture script with the endpoint in its environment and returns
/// the one JSON object it printed.
fn run_fixture(
    mut command: Command,
    endpoint: &Endpoint,
    from: Address,
    recipient: &str,
    what: &str,
) -> Value {
    command
        .env("RPC_URL", &endpoint.url)
        .env("RPC_TOKEN", &endpoint.token)
        .env("RPC_ACCOUNT", from.to_string())
        .env("RPC_RECIPIENT", recipient)
        .env("RPC_CHAIN_ID", CHAIN_ID.to_string());
    let output = output(&mut command, what);
    let stdout = String::from_utf8(output.stdout).expect("utf-8 stdout");
    let json: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{what} printed no JSON object ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(json.is_object(), "{what}: {json}");
    json
}

/// Runs `command` to its end (bounded by the tools' own timeouts) and
/// panics with its status, stdout and stderr unless it succeeded.
fn output(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("start {what} ({:?}): {e}", command.get_program()));
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
