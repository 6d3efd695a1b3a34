//! `mpc serve` end to end: the real `mpc` binary serving HTTP, driven with a
//! real HTTP client, over a real nats-server and co-signer (and anvil plus
//! the broadcaster for a mined transaction). Signatures are recovered here
//! with alloy, independently of the wallet's own checks.

use std::collections::BTreeSet;
use std::path::PathBuf;

use alloy::primitives::{Address, Signature};
use mpc_e2e::api::{assert_error, read, Api, SHARE};
use mpc_e2e::{Anvil, Deployment, ANVIL_DEV_ADDRESS};
use reqwest::blocking::{Client, Response};
use reqwest::StatusCode;
use serde_json::{json, Value};
const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
/// Every route `mpc serve` answers, with its method: the OpenAPI document
/// must list exactly these.
const ROUTES: [(&str, &str); 10] = [
    ("get", "/openapi.yaml"),
    ("get", "/healthz"),
    ("post", "/keygen/init"),
    ("post", "/keygen/complete"),
    ("post", "/address"),
    ("post", "/tx/prepare"),
    ("post", "/tx/sign"),
    ("post", "/tx/broadcast"),
    ("get", "/tx/broadcast/{tx_hash}"),
    ("post", "/rpc"),
];

fn address(value: &Value) -> Address {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("{value} is not an address"))
}

/// The signer of a personal message, from the 65-byte `signature` field.
fn personal_signer(signed: &Value, message: &[u8]) -> Address {
    let bytes = hex::decode(
        signed["signature"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .expect("hex signature");
    let signature = Signature::from_raw(&bytes).expect("r ‖ s ‖ v");
    signature.recover_address_from_msg(message).unwrap()
}

#[test]
fn keygen_address_and_message_signing_over_http() {
    let deployment = Deployment::start();
    let api = Api::start(&deployment, &[]);
    let (status, health) = api.get("/healthz");
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "ok");

    let wallet = api.keygen(json!({}));
    let master = address(&wallet["address"]);
    assert!(deployment.path(SHARE).is_file(), "{wallet}");
    assert!(wallet["public_key"].as_str().unwrap().starts_with("0x"));
    assert!(!wallet["wallet_id"].as_str().unwrap().is_empty());
    // The CLI reads the same share the server wrote.
    let cli = deployment.mpc_ok(&["address", "--share", SHARE]);
    assert_eq!(address(&cli["address"]), master);

    // A result is handed out once; a second keygen must not replace the share.
    let session = wallet["session_id"].clone();
    api.err(
        "/keygen/complete",
        json!({"session_id": session}),
        StatusCode::NOT_FOUND,
        "unknown_session",
    );
    api.err(
        "/keygen/init",
        json!({}),
        StatusCode::CONFLICT,
        "share_exists",
    );

    let got = api.ok("/address", json!({}));
    assert_eq!(address(&got["address"]), master);
    assert_eq!(got["index"], Value::Null);
    let child = api.ok("/address", json!({"index": 3}));
    assert_eq!(child["index"], 3);
    assert_eq!(child["path"], "m/0/3");
    let cli = deployment.mpc_ok(&["address", "--share", SHARE, "--index", "3"]);
    assert_eq!(child["address"], cli["address"]);
    assert_ne!(address(&child["address"]), master);

    let signed = api.ok("/tx/sign", json!({"message": "hello over http"}));
    assert_eq!(address(&signed["from"]), master);
    assert_eq!(personal_signer(&signed, b"hello over http"), master);
    let signed = api.ok("/tx/sign", json!({"message": "0xdeadbeef", "index": 3}));
    assert_eq!(signed["from"], child["address"]);
    assert_eq!(
        personal_signer(&signed, &[0xde, 0xad, 0xbe, 0xef]),
        address(&child["address"])
    );
    let mut mail: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/eip712_mail.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The EIP's example is for mainnet; the wallet signs typed data for its own chain only.
    let (status, refused) = api.post("/tx/sign", json!({"typed_data": mail}));
    assert_error(&refused, status, StatusCode::BAD_REQUEST, "invalid_payload");
    mail["domain"]["chainId"] = json!(11_155_111);
    // An EIP-7702 authorization, the same body as `mpc sign --authorization`,
    // recovered here with alloy.
    let delegate = "0x00000000000000000000000000000000deadc0de";
    let signed = api.ok(
        "/tx/sign",
        json!({"authorization": {"chain_id": 11155111, "address": delegate, "nonce": 7}}),
    );
    let authorization = alloy::eips::eip7702::Authorization {
        chain_id: alloy::primitives::U256::from(11155111u64),
        address: delegate.parse().unwrap(),
        nonce: 7,
    };
    let parse = |key: &str| {
        signed[key]
            .as_str()
            .unwrap()
            .parse::<alloy::primitives::U256>()
            .unwrap()
    };
    let signature = Signature::new(parse("r"), parse("s"), signed["y_parity"] == 1);
    let recovered = signature
        .recover_address_from_prehash(&authorization.signature_hash())
        .unwrap();
    assert_eq!(recovered, master, "{signed}");
    let signed = api.ok("/tx/sign", json!({"typed_data": mail}));
    assert_eq!(address(&signed["from"]), master);
    assert!(
        signed["signature"].as_str().unwrap().len() == 132,
        "{signed}"
    );

    // A second wallet, written where the request says, inside the share folder.
    let other = api.keygen(json!({"out": "second.enc"}));
    assert_ne!(other["address"], wallet["address"]);
    assert!(deployment.path("second.enc").is_file(), "{other}");
    let got = api.ok("/address", json!({"share": "second.enc"}));
    assert_eq!(got["address"], other["address"]);
    // `force` replaces a share of the folder: a new wallet in the same file.
    let replaced = api.keygen(json!({"out": "second.enc", "force": true}));
    assert_ne!(replaced["address"], other["address"]);
    let got = api.ok("/address", json!({"share": "second.enc"}));
    assert_eq!(got["address"], replaced["address"]);
}

#[test]
fn a_transaction_prepared_signed_and_broadcast_over_http_is_mined() {
    let anvil = Anvil::start();
    let deployment = Deployment::start();
    let _broadcaster = deployment.start_broadcaster(&anvil.url());
    let wallet = address(&deployment.keygen(SHARE)["address"]);
    let node = Client::new();
    let rpc = |method: &str, params: Value| -> Value {
        let response: Value = node
            .post(anvil.url())
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .and_then(Response::json)
            .expect("anvil answers");
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    };
    rpc(
        "eth_sendTransaction",
        json!([{"from": ANVIL_DEV_ADDRESS, "to": wallet, "value": "0xde0b6b3a7640000"}]),
    );

    let api = Api::start(&deployment, &[("MPC_RPC_URL", &anvil.url())]);
    let prepared = api.ok(
        "/tx/prepare",
        json!({"tx": {"to": RECIPIENT, "value": "1000000000000000"}}),
    );
    let tx = &prepared["tx"];
    assert_eq!(tx["nonce"], 0, "{prepared}");
    assert_eq!(tx["chain_id"], 11155111, "{prepared}");
    assert!(
        prepared["tx_hash"].as_str().unwrap().len() == 66,
        "{prepared}"
    );

    let signed = api.ok("/tx/sign", json!({"tx": tx}));
    assert_eq!(address(&signed["from"]), wallet);
    for field in ["r", "s", "v", "raw_tx", "tx_hash"] {
        assert!(
            signed[field].as_str().unwrap().starts_with("0x"),
            "{signed}"
        );
    }

    let sent = api.ok("/tx/broadcast", json!({"raw_tx": signed["raw_tx"]}));
    assert_eq!(sent["status"], "success", "{sent}");
    assert_eq!(sent["tx_hash"], signed["tx_hash"]);
    let receipt = rpc("eth_getTransactionReceipt", json!([sent["tx_hash"]]));
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(address(&receipt["from"]), wallet);
    let block = u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert_eq!(sent["block_number"], block);

    // Looked up again: the broadcaster's record, at once.
    let hash = sent["tx_hash"].as_str().unwrap();
    let (status, looked_up) = api.get(&format!("/tx/broadcast/{hash}"));
    assert_eq!(status, StatusCode::OK, "{looked_up}");
    assert_eq!(
        (&looked_up["status"], &looked_up["block_number"]),
        (&json!("success"), &json!(block))
    );
    assert_eq!(address(&looked_up["receipt"]["from"]), wallet);
    let unknown = format!("0x{}", "ab".repeat(32));
    let (status, error) = api.get(&format!("/tx/broadcast/{unknown}"));
    assert_error(&error, status, StatusCode::NOT_FOUND, "unknown_broadcast");
    let (status, error) = api.get("/tx/broadcast/0x1234");
    assert_error(&error, status, StatusCode::BAD_REQUEST, "invalid_tx_hash");
}

#[test]
fn every_request_needs_the_token_and_errors_are_json() {
    let deployment = Deployment::start();
    deployment.keygen(SHARE);
    let api = Api::start(&deployment, &[]);

    // The token: 32 random bytes in hex, owner-only, reused after a restart.
    assert_eq!(api.token.len(), 64);
    assert!(api.token.bytes().all(|b| b.is_ascii_hexdigit()));
    let token_file = deployment.path("client-home").join("http.token");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    for (method, path) in ROUTES.iter().filter(|(_, path)| *path != "/openapi.yaml") {
        let request = match *method {
            "get" => api.http.get(api.url(path)),
            _ => api.http.post(api.url(path)).body("{}"),
        };
        let (status, json) = read(request.try_clone().unwrap().send());
        assert_error(&json, status, StatusCode::UNAUTHORIZED, "unauthorized");
        let (status, json) = read(request.bearer_auth("0".repeat(64)).send());
        assert_error(&json, status, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let response = api.http.get(api.url("/healthz")).send().unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, json) = read(
        api.http
            .get(api.url("/healthz"))
            .header("authorization", format!("Basic {}", api.token))
            .send(),
    );
    assert_error(&json, status, StatusCode::UNAUTHORIZED, "unauthorized");

    // Bad bodies: not JSON, wrong shape, unknown fields, nothing to sign.
    let (status, json) = read(
        api.authed(api.http.post(api.url("/tx/sign")))
            .body("{not json")
            .send(),
    );
    assert_error(&json, status, StatusCode::BAD_REQUEST, "bad_json");
    api.err(
        "/address",
        json!({"index": "three"}),
        StatusCode::BAD_REQUEST,
        "bad_json",
    );
    api.err(
        "/address",
        json!({"indx": 3}),
        StatusCode::BAD_REQUEST,
        "bad_json",
    );
    api.err(
        "/tx/sign",
        json!({}),
        StatusCode::BAD_REQUEST,
        "nothing_to_sign",
    );
    api.err(
        "/tx/sign",
        json!({"message": "a", "tx": {}}),
        StatusCode::BAD_REQUEST,
        "nothing_to_sign",
    );
    api.err(
        "/tx/sign",
        json!({"tx": {"to": RECIPIENT, "value": 1, "chain_id": 1, "nonce": 0, "gas_limit": 21000, "gas_price": 1}}),
        StatusCode::BAD_REQUEST,
        "invalid_tx",
    );
    api.err(
        "/tx/broadcast",
        json!({"raw_tx": "0x1234"}),
        StatusCode::BAD_REQUEST,
        "invalid_raw_tx",
    );
    api.err(
        "/address",
        json!({"index": 2147483648u32}),
        StatusCode::BAD_REQUEST,
        "invalid_index",
    );

    // Unknown shares, sessions and routes are 404s.
    let missing = "missing.enc";
    let message = api.err(
        "/address",
        json!({"share": missing}),
        StatusCode::NOT_FOUND,
        "share_not_found",
    );
    assert!(message.contains("missing.enc"), "{message}");
    api.err(
        "/tx/sign",
        json!({"message": "hi", "share": missing}),
        StatusCode::NOT_FOUND,
        "share_not_found",
    );
    api.err(
        "/keygen/complete",
        json!({"session_id": "nope"}),
        StatusCode::NOT_FOUND,
        "unknown_session",
    );
    let (status, json) = api.get("/no/such/route");
    assert_error(&json, status, StatusCode::NOT_FOUND, "not_found");
    let (status, json) = api.get("/tx/sign");
    assert_error(
        &json,
        status,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    // Started without MPC_RPC_URL: prepare cannot work, and says so.
    api.err(
        "/tx/prepare",
        json!({"tx": {"to": RECIPIENT, "value": 1}}),
        StatusCode::SERVICE_UNAVAILABLE,
        "rpc_url_missing",
    );

    // Nothing a caller sent reaches the logs; every request has its id there.
    let logs = api.logs();
    assert!(!logs.contains(&api.token), "the token was logged");
    assert!(!logs.contains("not json"), "a body was logged");
    assert!(logs.contains("request_id"), "{logs}");

    let first_token = api.token.clone();
    drop(api);
    let again = Api::start(&deployment, &[]);
    assert_eq!(
        again.token, first_token,
        "the token is reused after a restart"
    );
    let (status, _) = again.get("/healthz");
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn a_passphrase_share_without_a_passphrase_is_a_startup_error() {
    let deployment = Deployment::start();
    deployment.keygen(SHARE);
    let output = deployment
        .mpc()
        .env_remove("MPC_PASSPHRASE")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--share",
            SHARE,
            "--json",
        ])
        .output()
        .expect("run mpc serve");
    let (code, error, stderr) = mpc_e2e::parse_failure(&["serve"], &output);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(error["error"]["code"], "passphrase_required", "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("MPC_PASSPHRASE"), "{message}");
}

#[test]
fn a_dead_cosigner_turns_healthz_and_signing_into_json_errors() {
    let mut deployment = Deployment::start();
    deployment.keygen(SHARE);
    let api = Api::start(&deployment, &[]);
    let (status, _) = api.get("/healthz");
    assert_eq!(status, StatusCode::OK);

    deployment.cosigner.kill();
    let (status, json) = api.get("/healthz");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert!(
        json["error"]["code"]
            .as_str()
            .unwrap()
            .starts_with("cosigner_"),
        "{json}"
    );
    let (status, json) = api.post("/tx/sign", json!({"message": "anyone there?"}));
    assert!(
        status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::GATEWAY_TIMEOUT,
        "{status} {json}"
    );
    assert!(
        json["error"]["code"]
            .as_str()
            .unwrap()
            .starts_with("cosigner_"),
        "{json}"
    );

    // Back up, the same server signs again.
    deployment.restart_cosigner();
    let (status, _) = api.get("/healthz");
    assert_eq!(status, StatusCode::OK);
    api.ok("/tx/sign", json!({"message": "back"}));
}

#[test]
fn the_openapi_document_lists_every_route_served() {
    let document: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml"),
        )
        .expect("docs/openapi.yaml"),
    )
    .expect("docs/openapi.yaml is YAML");
    let deployment = Deployment::start();
    let api = Api::start(&deployment, &[]);

    // Served as is, without a token.
    let served = api.http.get(api.url("/openapi.yaml")).send().unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert!(served.headers().contains_key("x-request-id"));
    let served: serde_yaml::Value = serde_yaml::from_str(&served.text().unwrap()).unwrap();
    assert_eq!(served, document);

    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let mut listed = BTreeSet::new();
    for (path, item) in document["paths"].as_mapping().expect("paths").iter() {
        for (method, operation) in item.as_mapping().unwrap() {
            let (path, method) = (path.as_str().unwrap(), method.as_str().unwrap());
            listed.insert((method.to_owned(), path.to_owned()));
            let responses = operation["responses"].as_mapping().expect("responses");
            if path != "/openapi.yaml" {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents no 401"
                );
            }
        }
    }
    let served: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed, served);
    // And the server answers each documented route (401 without a token, not 404/405).
    for (method, path) in &listed {
        let status = match method.as_str() {
            "get" => api.http.get(api.url(path)).send(),
            _ => api.http.post(api.url(path)).send(),
        }
        .unwrap()
        .status();
        let expected = if path == "/openapi.yaml" {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "{method} {path}");
    }
    for schema in ["Error", "SignRequest", "SignResponse", "BroadcastResponse"] {
        assert!(
            document["components"]["schemas"][schema].is_mapping(),
            "no {schema} schema"
        );
    }
}

/// The co-signer's wallets: one file each.
fn cosigner_wallets(deployment: &Deployment) -> usize {
    std::fs::read_dir(deployment.cosigner_data().join("wallets"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

#[test]
fn requests_name_only_share_files_inside_the_share_folder() {
    let deployment = Deployment::start();
    deployment.keygen(SHARE);
    let api = Api::start(&deployment, &[]);
    let wallets = cosigner_wallets(&deployment);

    // An unrelated file beside the share, and one outside the folder.
    let victim = deployment.path("notes.txt");
    std::fs::write(&victim, b"not a share").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = outside.path().join("elsewhere.enc");
    std::fs::copy(deployment.path(SHARE), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, deployment.path("link.enc")).unwrap();
    std::os::unix::fs::symlink(outside.path(), deployment.path("away")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", deployment.path("zero.enc")).unwrap();

    // Absolute paths, `..`, empty names, NUL and escaping symlinks: 400 for
    // reads and for keygen alike, and the files stay as they were.
    let escaping = [
        json!(elsewhere),
        json!("/dev/zero"),
        json!("../elsewhere.enc"),
        json!(""),
        json!("a\u{0}b.enc"),
        json!("link.enc"),
        json!("zero.enc"),
        json!("away/elsewhere.enc"),
    ];
    for share in &escaping {
        api.err(
            "/address",
            json!({"share": share}),
            StatusCode::BAD_REQUEST,
            "invalid_share_path",
        );
        api.err(
            "/tx/sign",
            json!({"message": "hi", "share": share}),
            StatusCode::BAD_REQUEST,
            "invalid_share_path",
        );
    }
    // (A symlink named as `out` is refused as no share file, below.)
    let symlinks = [json!("link.enc"), json!("zero.enc")];
    for out in escaping.iter().filter(|out| !symlinks.contains(out)) {
        let (status, json) = api.post("/keygen/init", json!({"out": out, "force": true}));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{out}: {json}");
    }

    // `out` in a missing folder, over a file that is no share, over a
    // symlink or a folder: refused at init, before the co-signer stores anything.
    api.err(
        "/keygen/init",
        json!({"out": "no/such/folder.enc"}),
        StatusCode::BAD_REQUEST,
        "share_folder_missing",
    );
    std::fs::create_dir(deployment.path("sub")).unwrap();
    for out in ["notes.txt", "link.enc", "zero.enc", "sub"] {
        api.err(
            "/keygen/init",
            json!({"out": out, "force": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_share_file",
        );
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"not a share");
    assert_eq!(
        cosigner_wallets(&deployment),
        wallets,
        "no orphan wallets on the co-signer"
    );

    // Only regular files of share size are read: a FIFO does not hang the
    // request, a folder or a huge file is no share.
    let fifo = deployment.path("pipe.enc");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    std::fs::write(deployment.path("huge.enc"), vec![0u8; 2 << 20]).unwrap();
    for share in ["pipe.enc", "sub", "huge.enc", "notes.txt"] {
        api.err(
            "/address",
            json!({"share": share}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_share_file",
        );
    }
    // A share in a sub-folder is fine.
    std::fs::copy(deployment.path(SHARE), deployment.path("sub/copy.enc")).unwrap();
    let copy = api.ok("/address", json!({"share": "sub/copy.enc"}));
    assert_eq!(copy["address"], api.ok("/address", json!({}))["address"]);

    // `null` is not a value of any field, and the bounds are the spec's.
    for body in [
        json!({"share": null}),
        json!({"index": null}),
        json!({"index": -1}),
    ] {
        api.err("/address", body, StatusCode::BAD_REQUEST, "bad_json");
    }
    api.err(
        "/keygen/init",
        json!({"out": null}),
        StatusCode::BAD_REQUEST,
        "bad_json",
    );
    api.err(
        "/tx/broadcast",
        json!({"raw_tx": "0x02", "wait_timeout_secs": 3601}),
        StatusCode::BAD_REQUEST,
        "invalid_wait_timeout",
    );
    api.err(
        "/tx/broadcast",
        json!({"raw_tx": "0x"}),
        StatusCode::BAD_REQUEST,
        "invalid_raw_tx",
    );
}

#[test]
fn the_bearer_scheme_is_case_insensitive_and_big_bodies_are_413() {
    let deployment = Deployment::start();
    let api = Api::start(&deployment, &[]);
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let (status, json) = read(
            api.http
                .get(api.url("/healthz"))
                .header("authorization", format!("{scheme} {}", api.token))
                .send(),
        );
        assert_eq!(status, StatusCode::OK, "{scheme}: {json}");
    }
    let (status, json) = read(
        api.http
            .get(api.url("/healthz"))
            .header("authorization", format!("Bearer{}", api.token))
            .send(),
    );
    assert_error(&json, status, StatusCode::UNAUTHORIZED, "unauthorized");

    let big = format!("{{\"message\": \"{}\"}}", "a".repeat(3 << 20));
    let (status, json) = read(
        api.authed(api.http.post(api.url("/tx/sign")))
            .body(big)
            .send(),
    );
    assert_error(
        &json,
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
}

/// The Python that has schemathesis: the tools venv's (`.tools/bin/python3`).
fn schemathesis_python() -> PathBuf {
    let python = mpc_testkit::tool("python3");
    let found = std::process::Command::new(&python)
        .args(["-c", "import schemathesis"])
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
    assert!(
        found.success(),
        "{} has no schemathesis: run scripts/install-tools",
        python.display()
    );
    python
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let python = schemathesis_python();
    let deployment = Deployment::start();
    deployment.keygen(SHARE);
    let api = Api::start(&deployment, &[]);
    let report = deployment.path("schemathesis.xml");
    // Keygen init is left out: each example would run a real keygen (the
    // curl-level tests above cover it). Every other operation, the signing
    // ones included, gets a bounded number of examples.
    let output = std::process::Command::new(&python)
        .args(["-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"])
        .arg("run")
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml"),
        )
        .args(["--url", &api.base])
        .args(["--header", &format!("Authorization: Bearer {}", api.token)])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        .args(["--phases", "examples,fuzzing", "--max-examples", "15"])
        .args(["--exclude-operation-id", "keygenInit"])
        .args(["--workers", "1", "--seed", "1", "--no-color"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .current_dir(deployment.path(""))
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        api.logs()
    );
    let junit = std::fs::read_to_string(&report).expect("the JUnit report");
    assert!(junit.contains("failures=\"0\""), "{junit}");
    assert!(junit.contains("errors=\"0\""), "{junit}");
    // Nine operations (every route but the excluded keygen init) were tested, not zero.
    assert_eq!(junit.matches("<testcase ").count(), 9, "{junit}");
}
