//! `mpc serve`'s Ethereum JSON-RPC endpoint end to end: the real `mpc serve`,
//! co-signer, broadcaster, nats-server and anvil, driven by a plain HTTP
//! client here and by cast, viem, ethers and web3.py in [`tools`]. Every
//! signature is recovered independently (alloy here, the tools' own
//! verifiers there); every transaction counts only once anvil mined it.

mod tools;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use alloy::dyn_abi::TypedData;
use alloy::primitives::{Address, Signature, B256};
use mpc_e2e::api::Api;
use mpc_e2e::{Anvil, Deployment};
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Child accounts served besides the master key: one per tool and one for
/// the README's cast block, so their sends do not race for nonces, and one
/// for the concurrent sends.
const CHILDREN: &str = "1,2,3,4,5,6";
const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
const FUNDS_WEI: &str = "0x56bc75e2d63100000"; // 100 ether
const CONCURRENT_SENDS: usize = 20;

/// What the tests drive: the endpoint, its token, and the served accounts.
pub struct Endpoint {
    /// `http://127.0.0.1:PORT/rpc`
    pub url: String,
    pub token: String,
    /// The node itself, for independent checks.
    pub anvil_url: String,
    /// `accounts[0]` is the master address, `accounts[N]` is m/0/N; all funded.
    pub accounts: Vec<Address>,
    pub http: Client,
}

impl Endpoint {
    /// The whole JSON-RPC response to `method(params)`.
    pub fn call(&self, method: &str, params: Value) -> Value {
        let request = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&request)
            .send()
            .expect("the endpoint answers");
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let reply: Value = response.json().expect("a JSON-RPC response");
        assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
        assert_eq!(reply["id"], 7, "{reply}");
        reply
    }

    /// The `result` of `method(params)`; fails on an error.
    pub fn result(&self, method: &str, params: Value) -> Value {
        let reply = self.call(method, params);
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// The `error` of `method(params)`, checked to carry `code` and `data.code`.
    pub fn error(&self, method: &str, params: Value, code: i64, stable: &str) -> String {
        let reply = self.call(method, params);
        let error = &reply["error"];
        assert_eq!(error["code"], code, "{method}: {reply}");
        assert_eq!(error["data"]["code"], stable, "{method}: {reply}");
        assert!(reply.get("result").is_none(), "{reply}");
        error["message"].as_str().expect("a message").to_owned()
    }

    /// `method(params)` asked of anvil directly.
    pub fn node(&self, method: &str, params: Value) -> Value {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let reply: Value = self
            .http
            .post(&self.anvil_url)
            .json(&request)
            .send()
            .and_then(|r| r.json())
            .expect("anvil answers");
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// Waits until anvil has a receipt for `tx_hash`; returns it.
    pub fn mined(&self, tx_hash: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let receipt = self.node("eth_getTransactionReceipt", json!([tx_hash]));
            if !receipt.is_null() {
                return receipt;
            }
            assert!(Instant::now() < deadline, "{tx_hash} was not mined in 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn address(value: &Value) -> Address {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("{value} is not an address"))
}

/// A 65-byte `r ‖ s ‖ v` signature; s must be low (EIP-2).
fn signature(value: &Value) -> Signature {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a signature"));
    let bytes = hex::decode(text.trim_start_matches("0x")).expect("hex signature");
    let signature = Signature::from_raw(&bytes).expect("r ‖ s ‖ v, 65 bytes");
    assert!(
        signature.normalize_s().is_none(),
        "s must be in the lower half of the curve order: {text}"
    );
    signature
}

#[test]
fn ethereum_tools_sign_through_the_json_rpc_endpoint() {
    let deployment = Deployment::start();
    let anvil = Anvil::start();
    let _broadcaster = deployment.start_broadcaster(&anvil.url());
    let created = deployment.keygen(mpc_e2e::api::SHARE);
    // eth_chainId must be the node's chain: a node on another is a startup error.
    let (exit, error, _) = deployment.mpc_err_env(
        &[("MPC_RPC_URL", &anvil.url()), ("MPC_CHAIN_ID", "1")],
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--share",
            mpc_e2e::api::SHARE,
        ],
    );
    assert_eq!(
        (exit, &error["error"]["code"]),
        (7, &json!("wrong_chain")),
        "{error}"
    );
    let api = Api::start_with(
        &deployment,
        &[("MPC_RPC_URL", &anvil.url())],
        &["--accounts", CHILDREN],
    );
    let mut endpoint = Endpoint {
        url: format!("{}/rpc", api.base),
        token: api.token.clone(),
        anvil_url: anvil.url(),
        accounts: Vec::new(),
        http: api.http.clone(),
    };
    let accounts = endpoint.result("eth_accounts", json!([]));
    endpoint.accounts = accounts.as_array().unwrap().iter().map(address).collect();
    assert_eq!(endpoint.accounts.len(), 7, "{accounts}");
    assert_eq!(endpoint.accounts[0], address(&created["address"]));
    let child = deployment.mpc_ok(&["address", "--index", "3"]);
    assert_eq!(endpoint.accounts[3], address(&child["address"]));
    assert_eq!(endpoint.result("eth_requestAccounts", json!([])), accounts);
    assert_eq!(endpoint.result("eth_chainId", json!([])), "0xaa36a7");
    // anvil's own method, passed through: the funding itself proves pass-through.
    for account in &endpoint.accounts {
        endpoint.result("anvil_setBalance", json!([account, FUNDS_WEI]));
    }
    assert_eq!(
        endpoint.node("eth_getBalance", json!([endpoint.accounts[5], "latest"])),
        FUNDS_WEI
    );

    std::thread::scope(|threads| {
        let endpoint = &endpoint;
        threads.spawn(|| tools::cast(endpoint));
        threads.spawn(|| tools::viem(endpoint));
        threads.spawn(|| tools::ethers(endpoint));
        threads.spawn(|| tools::web3py(endpoint));
        threads.spawn(|| tools::readme_cast_block(endpoint, endpoint.accounts[6]));
        threads.spawn(|| concurrent_sends_get_consecutive_nonces(endpoint, endpoint.accounts[4]));
        threads.spawn(|| signatures_recover_to_the_account(endpoint, endpoint.accounts[5]));
        threads.spawn(|| requests_are_refused_with_json_rpc_errors(endpoint));
        threads.spawn(|| only_local_json_callers_with_the_token_get_in(endpoint));
    });

    // The node gone: passed-through methods say so, the wallet's own still answer.
    drop(anvil);
    let message = endpoint.error("eth_blockNumber", json!([]), -32603, "rpc_unreachable");
    assert!(message.contains("did not answer"), "{message}");
    assert_eq!(endpoint.result("eth_accounts", json!([])), accounts);
}

/// 20 `eth_sendTransaction` at once from one account: all mined, with
/// nonces exactly 0..19 (none shared, no gap).
fn concurrent_sends_get_consecutive_nonces(endpoint: &Endpoint, from: Address) {
    let hashes: Vec<String> = std::thread::scope(|threads| {
        let sends: Vec<_> = (0..CONCURRENT_SENDS)
            .map(|i| {
                threads.spawn(move || {
                    let tx =
                        json!({"from": from, "to": RECIPIENT, "value": format!("{:#x}", i + 1)});
                    let hash = endpoint.result("eth_sendTransaction", json!([tx]));
                    hash.as_str().expect("a tx hash").to_owned()
                })
            })
            .collect();
        sends.into_iter().map(|send| send.join().unwrap()).collect()
    });
    let mut nonces = BTreeSet::new();
    for hash in &hashes {
        assert_eq!(endpoint.mined(hash)["status"], "0x1", "{hash}");
        let tx = endpoint.node("eth_getTransactionByHash", json!([hash]));
        assert_eq!(address(&tx["from"]), from, "{tx}");
        let nonce = u64::from_str_radix(tx["nonce"].as_str().unwrap().trim_start_matches("0x"), 16);
        nonces.insert(nonce.unwrap());
    }
    assert_eq!(
        nonces,
        (0..CONCURRENT_SENDS as u64).collect::<BTreeSet<_>>(),
        "{hashes:?}"
    );
}

/// personal_sign (both parameter orders), eth_signTypedData_v4 (text and
/// object, and its alias) and eth_signTransaction, each recovered by alloy.
fn signatures_recover_to_the_account(endpoint: &Endpoint, account: Address) {
    let message = b"sign in to example.org";
    let hex_message = format!("0x{}", hex::encode(message));
    for params in [json!([hex_message, account]), json!([account, hex_message])] {
        let signed = endpoint.result("personal_sign", params);
        let recovered = signature(&signed)
            .recover_address_from_msg(message)
            .unwrap();
        assert_eq!(recovered, account);
    }
    let text = endpoint.result("personal_sign", json!(["plain text", account]));
    assert_eq!(
        signature(&text)
            .recover_address_from_msg(b"plain text")
            .unwrap(),
        account
    );

    let document = mail_typed_data();
    let typed: TypedData = serde_json::from_value(document.clone()).unwrap();
    let hash = typed.eip712_signing_hash().unwrap();
    for (method, doc) in [
        ("eth_signTypedData_v4", json!(document.to_string())),
        ("eth_signTypedData_v4", document.clone()),
        ("eth_signTypedData", json!(document.to_string())),
    ] {
        let signed = endpoint.result(method, json!([account, doc]));
        assert_eq!(
            signature(&signed)
                .recover_address_from_prehash(&hash)
                .unwrap(),
            account,
            "{method}"
        );
    }

    let tx = json!({"from": account, "to": RECIPIENT, "value": "0x2a"});
    let raw = endpoint.result("eth_signTransaction", json!([tx]));
    let bytes = mpc_evm::parse_raw_tx_hex(raw.as_str().unwrap()).unwrap();
    let decoded = mpc_evm::decode_raw_tx(&bytes).unwrap();
    assert_eq!(decoded.from, account);
    assert_eq!(decoded.chain_id, Some(11_155_111));
    // Signed, not sent.
    let sent = endpoint.node("eth_getTransactionByHash", json!([decoded.tx_hash]));
    assert!(sent.is_null(), "{sent}");
}

/// The EIP's `Mail` example, on this chain.
fn mail_typed_data() -> Value {
    let path = mpc_testkit::workspace_root().join("tests/fixtures/eip712_mail.json");
    let mut document: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    document["domain"]["chainId"] = json!(11_155_111);
    document
}

/// Refusals as JSON-RPC errors with standard codes and our code in `data`.
fn requests_are_refused_with_json_rpc_errors(endpoint: &Endpoint) {
    let hash = format!("{:#x}", B256::repeat_byte(0x11));
    let master = endpoint.accounts[0];
    let why = endpoint.error("eth_sign", json!([master, hash]), 4200, "eth_sign_refused");
    assert!(
        why.contains("personal_sign") && why.contains("eth_signTypedData_v4"),
        "{why}"
    );

    let stranger = "0x0000000000000000000000000000000000000bad";
    let tx = json!({"from": stranger, "to": RECIPIENT});
    let why = endpoint.error("eth_sendTransaction", json!([tx]), 4100, "unknown_account");
    assert!(why.contains("--accounts"), "{why}");
    endpoint.error(
        "personal_sign",
        json!(["0x00", stranger]),
        4100,
        "unknown_account",
    );

    let tx = json!({"from": master, "to": RECIPIENT, "colour": "red"});
    let why = endpoint.error("eth_sendTransaction", json!([tx]), -32602, "invalid_params");
    assert!(why.contains("colour"), "{why}");
    let tx = json!({"from": master, "to": RECIPIENT, "chainId": "0x1"});
    endpoint.error("eth_signTransaction", json!([tx]), -32602, "invalid_tx");
    endpoint.error(
        "eth_signTypedData_v4",
        json!([master, "{"]),
        -32602,
        "invalid_params",
    );

    // The node's own error comes back as the node gave it.
    let reply = endpoint.call("no_such_method", json!([]));
    assert_eq!(reply["error"]["code"], -32601, "{reply}");

    // A batch: each answered by whoever answers it, in order, ids kept.
    let batch = json!([
        {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": "b", "method": "eth_blockNumber"},
        {"jsonrpc": "2.0", "method": "eth_chainId"},
        {"jsonrpc": "1.0", "id": "d", "method": "eth_chainId"},
    ]);
    let replies: Value = post(endpoint, "application/json", batch.to_string())
        .json()
        .unwrap();
    let replies = replies.as_array().expect("a batch reply");
    assert_eq!(
        replies.len(),
        3,
        "the notification gets no reply: {replies:?}"
    );
    assert_eq!(
        (&replies[0]["id"], &replies[0]["result"]),
        (&json!("a"), &json!("0xaa36a7"))
    );
    assert_eq!(replies[1]["id"], "b");
    assert!(replies[1]["result"].as_str().unwrap().starts_with("0x"));
    assert_eq!(
        (&replies[2]["id"], &replies[2]["error"]["code"]),
        (&json!("d"), &json!(-32600))
    );

    let reply: Value = post(endpoint, "application/json", "{".into())
        .json()
        .unwrap();
    assert_eq!(
        (&reply["id"], &reply["error"]["code"]),
        (&Value::Null, &json!(-32700))
    );
    let notification = json!({"jsonrpc": "2.0", "method": "eth_chainId"}).to_string();
    assert_eq!(
        post(endpoint, "application/json", notification).status(),
        StatusCode::NO_CONTENT
    );
}

fn post(endpoint: &Endpoint, content_type: &str, body: String) -> reqwest::blocking::Response {
    endpoint
        .http
        .post(&endpoint.url)
        .bearer_auth(&endpoint.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .expect("the endpoint answers")
}

/// What a web page could send is refused before anything is signed: no or
/// a wrong token, a non-JSON body, a foreign Host (DNS rebinding), any
/// Origin; and no answer ever carries a CORS header.
fn only_local_json_callers_with_the_token_get_in(endpoint: &Endpoint) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"}).to_string();
    let typed = |content_type: &str| {
        endpoint
            .http
            .post(&endpoint.url)
            .header("content-type", content_type)
            .body(body.clone())
    };
    let request = || typed("application/json");
    let cases = [
        (
            "no token",
            request(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "wrong token",
            request().bearer_auth("0".repeat(64)),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "text/plain",
            request()
                .bearer_auth(&endpoint.token)
                .header("content-type", "text/plain"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "foreign Host",
            request()
                .bearer_auth(&endpoint.token)
                .header("host", "wallet.attacker.example"),
            StatusCode::FORBIDDEN,
            "forbidden_host",
        ),
        (
            "an Origin",
            request()
                .bearer_auth(&endpoint.token)
                .header("origin", "https://attacker.example"),
            StatusCode::FORBIDDEN,
            "forbidden_origin",
        ),
        (
            "an Origin of localhost",
            request()
                .bearer_auth(&endpoint.token)
                .header("origin", "http://localhost:3000"),
            StatusCode::FORBIDDEN,
            "forbidden_origin",
        ),
    ];
    for (what, request, status, code) in cases {
        let response = request.send().expect("the endpoint answers");
        assert_eq!(response.status(), status, "{what}");
        assert!(
            response
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-")),
            "{what}: a CORS header"
        );
        let json: Value = response.json().expect("a JSON error");
        assert_eq!(json["error"]["code"], code, "{what}: {json}");
    }
    // The same Host rule guards every route, not only /rpc.
    let response = endpoint
        .http
        .post(endpoint.url.replace("/rpc", "/address"))
        .bearer_auth(&endpoint.token)
        .header("host", "wallet.attacker.example")
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
