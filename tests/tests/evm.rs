//! EVM flows end to end, as a user scripting `mpc` sees them: the real CLI,
//! co-signer and broadcaster processes over a real nats-server, against a
//! real anvil on Sepolia's chain id. The node is read and funded directly
//! (anvil's unlocked dev account), and signatures are recovered here with
//! alloy, independently of the wallet's own checks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Signature, B256, U256};
use alloy::providers::{Provider, RootProvider};
use mpc_api::broadcast::{BroadcastError, BroadcastResult, BroadcastStatus, ResultSubscription};
use mpc_api::{encode, RejectionCode, SignRequest};
use mpc_e2e::{
    anvil_on, parse_failure, Anvil, Deployment, Role, ANVIL_DEV_ADDRESS, CLIENT_PASSPHRASE,
    SEPOLIA_CHAIN_ID,
};
use mpc_evm::{EvmRpc, Fees, Receipt, SignPayload, TxRequest};
use mpc_session::{Identity, Op, SessionClient, SessionConfig, SessionError, SessionId};
use mpc_store::{Expect, Passphrase, ShareParty};
use serde_json::{json, Value};

const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
const ONE_ETH: u128 = 1_000_000_000_000_000_000;
const SHARE: &str = "client_share.enc";
/// The signing hash the EIP-712 text gives for its `Mail` example (chainId 1).
const MAIL_DIGEST: &str = "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2";

/// The EIP's `Mail` example moved to Sepolia, written beside the deployment,
/// and its signing hash: alloy's, checked against the published one first.
fn sepolia_mail(deployment: &Deployment) -> (PathBuf, alloy::primitives::B256) {
    let hash = |document: &Value| {
        serde_json::from_value::<alloy::dyn_abi::TypedData>(document.clone())
            .unwrap()
            .eip712_signing_hash()
            .unwrap()
    };
    let mut mail: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("eip712_mail.json")).unwrap())
            .unwrap();
    assert_eq!(
        hash(&mail),
        MAIL_DIGEST.parse::<alloy::primitives::B256>().unwrap()
    );
    mail["domain"]["chainId"] = json!(11_155_111);
    let path = deployment.path("mail_sepolia.json");
    std::fs::write(&path, mail.to_string()).unwrap();
    (path, hash(&mail))
}

/// A node the test drives directly, next to the wallet: funding from anvil's
/// unlocked dev account, balances, receipts.
struct Chain {
    runtime: tokio::runtime::Runtime,
    provider: RootProvider,
    rpc: EvmRpc,
}

impl Chain {
    fn connect(url: &str) -> Chain {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let rpc = runtime
            .block_on(EvmRpc::connect(url, SEPOLIA_CHAIN_ID))
            .expect("a node on Sepolia's chain id");
        let provider = RootProvider::new_http(url.parse().expect("node URL"));
        Chain {
            runtime,
            provider,
            rpc,
        }
    }

    /// `eth_sendTransaction` from anvil's unlocked dev account, mined successfully.
    fn send_from_dev(&self, mut tx: Value) -> Receipt {
        tx["from"] = ANVIL_DEV_ADDRESS.into();
        let hash: B256 = self
            .runtime
            .block_on(
                self.provider
                    .raw_request("eth_sendTransaction".into(), (tx.clone(),)),
            )
            .unwrap_or_else(|e| panic!("eth_sendTransaction {tx}: {e}"));
        let receipt = self.receipt(hash);
        assert!(receipt.success, "dev transaction {tx} failed: {receipt:?}");
        receipt
    }

    fn fund(&self, to: Address, wei: u128) {
        self.send_from_dev(json!({"to": to, "value": format!("{wei:#x}")}));
    }

    fn receipt(&self, hash: B256) -> Receipt {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(receipt) = self.runtime.block_on(self.rpc.receipt(hash)).unwrap() {
                return receipt;
            }
            assert!(Instant::now() < deadline, "{hash} not mined within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn balance(&self, owner: Address) -> U256 {
        self.runtime.block_on(self.rpc.balance(owner)).unwrap()
    }

    fn nonce(&self, owner: Address) -> u64 {
        self.runtime.block_on(self.rpc.nonce(owner)).unwrap()
    }

    /// Deploys `tests/fixtures/minimal_erc20.hex`, which credits the deployer
    /// (the dev account) with its whole supply.
    fn deploy_token(&self) -> Address {
        let dev: Address = ANVIL_DEV_ADDRESS.parse().unwrap();
        let nonce = self.nonce(dev);
        let code = std::fs::read_to_string(fixture("minimal_erc20.hex")).unwrap();
        self.send_from_dev(json!({"data": code.trim(), "gas": "0x7a120"}));
        dev.create(nonce)
    }

    fn token_balance(&self, token: Address, owner: Address) -> U256 {
        let data = mpc_evm::erc20::balance_of_calldata(owner);
        let out = self.runtime.block_on(self.rpc.call(token, data)).unwrap();
        U256::from_be_slice(&out)
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn address(value: &Value) -> Address {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("{value} is not an address"))
}

/// `mpc keygen` in `deployment`; returns the wallet's address.
fn keygen(deployment: &Deployment) -> Address {
    address(&deployment.keygen(SHARE)["address"])
}

/// Writes `tx` as `<name>.json`, signs it with `mpc sign --tx` (at child
/// `index` if given) into `<name>.sig.json`, and returns the sign output
/// after checking sig.json holds the same.
fn sign_tx(deployment: &Deployment, name: &str, tx: &Value, index: Option<u32>) -> Value {
    let tx_path = deployment.path(&format!("{name}.json"));
    std::fs::write(&tx_path, tx.to_string()).unwrap();
    let sig_path = sig_path(deployment, name);
    let index = index.map(|i| i.to_string());
    let mut args = vec![
        "sign",
        "--share",
        SHARE,
        "--tx",
        tx_path.to_str().unwrap(),
        "--out",
        sig_path.to_str().unwrap(),
    ];
    if let Some(index) = &index {
        args.extend(["--index", index]);
    }
    let signed = deployment.mpc_ok(&args);
    let written: Value = serde_json::from_slice(&std::fs::read(&sig_path).unwrap()).unwrap();
    assert_eq!(written, signed, "sig.json differs from the printed result");
    signed
}

fn sig_path(deployment: &Deployment, name: &str) -> PathBuf {
    deployment.path(&format!("{name}.sig.json"))
}

/// `mpc broadcast --raw <name>.sig.json`, waiting for the receipt; checks the
/// result against the node: mined, status 1, sent by `from`.
fn broadcast_mined(chain: &Chain, deployment: &Deployment, name: &str, from: Address) -> Receipt {
    let sig = sig_path(deployment, name);
    let result = deployment.mpc_ok(&["broadcast", "--raw", sig.to_str().unwrap()]);
    assert_eq!(result["status"], "success", "{result}");
    let receipt = chain.receipt(result["tx_hash"].as_str().unwrap().parse().unwrap());
    assert!(receipt.success, "{receipt:?}");
    assert_eq!(receipt.from, from);
    assert_eq!(result["block_number"], receipt.block_number);
    receipt
}

fn v_of(signed: &Value) -> u64 {
    let v = signed["v"].as_str().expect("v is 0x-hex");
    u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn eth_and_erc20_transfers_signed_by_the_cli_are_mined_from_the_mpc_address() {
    let anvil = Anvil::start();
    let chain = Chain::connect(&anvil.url());
    let deployment = Deployment::start();
    let _broadcaster = deployment.start_broadcaster(&anvil.url());
    let wallet = keygen(&deployment);
    chain.fund(wallet, ONE_ETH);
    let recipient: Address = RECIPIENT.parse().unwrap();
    let before = chain.balance(recipient);

    // Legacy (EIP-155): v carries the chain id.
    let legacy = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 0, "to": RECIPIENT,
        "value": "1000", "gas_limit": 21000, "gas_price": "2000000000", "data": "0x"});
    let signed = sign_tx(&deployment, "legacy", &legacy, None);
    assert_eq!(address(&signed["from"]), wallet);
    assert!([SEPOLIA_CHAIN_ID * 2 + 35, SEPOLIA_CHAIN_ID * 2 + 36].contains(&v_of(&signed)));
    broadcast_mined(&chain, &deployment, "legacy", wallet);

    // EIP-1559, numbers in the other accepted forms.
    let eip1559 = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": "0x1", "to": RECIPIENT,
        "value": "0x7d0", "gas_limit": "21000", "max_fee_per_gas": "30000000000",
        "max_priority_fee_per_gas": 1_000_000_000u64});
    let signed = sign_tx(&deployment, "eip1559", &eip1559, None);
    assert!(signed["raw_tx"].as_str().unwrap().starts_with("0x02"));
    assert!(v_of(&signed) <= 1, "typed transactions carry the y parity");
    broadcast_mined(&chain, &deployment, "eip1559", wallet);
    assert_eq!(chain.balance(recipient) - before, U256::from(3000));

    // ERC-20: the dev account deploys the token and hands the wallet 1000 units.
    let token = chain.deploy_token();
    let data = mpc_evm::erc20::transfer_calldata(wallet, U256::from(1000));
    chain.send_from_dev(json!({"to": token, "data": data}));
    let erc20 = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 2, "gas_limit": 100000,
        "max_fee_per_gas": "30000000000", "max_priority_fee_per_gas": "1000000000",
        "erc20": {"token": token.to_checksum(None), "to": RECIPIENT, "amount": "250"}});
    sign_tx(&deployment, "erc20", &erc20, None);
    let receipt = broadcast_mined(&chain, &deployment, "erc20", wallet);
    assert!(receipt.gas_used > 21_000, "a token transfer runs code");
    assert_eq!(chain.token_balance(token, recipient), U256::from(250));
    assert_eq!(chain.token_balance(token, wallet), U256::from(750));

    // Re-signing an already used nonce: a clear failed result, nothing moves.
    let reused = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 0, "to": RECIPIENT,
        "value": "1", "gas_limit": 21000, "gas_price": "2000000000"});
    sign_tx(&deployment, "reused", &reused, None);
    let sig = sig_path(&deployment, "reused");
    let (exit, error, _) = deployment.mpc_err(&["broadcast", "--raw", sig.to_str().unwrap()]);
    assert_eq!(
        (exit, error["error"]["code"].as_str()),
        (7, Some("broadcast_failed"))
    );
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("nonce too low"), "{message}");
    assert_eq!(chain.balance(recipient) - before, U256::from(3000));
    assert_eq!(chain.nonce(wallet), 3);
}

#[test]
fn a_child_account_signs_for_its_own_address_and_prepare_fills_the_rest() {
    let anvil = Anvil::start();
    let chain = Chain::connect(&anvil.url());
    let deployment = Deployment::start();
    let _broadcaster = deployment.start_broadcaster(&anvil.url());
    let wallet = keygen(&deployment);
    let child =
        address(&deployment.mpc_ok(&["address", "--share", SHARE, "--index", "3"])["address"]);
    assert_ne!(child, wallet);
    chain.fund(child, ONE_ETH);

    let tx = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 0, "to": RECIPIENT,
        "value": "5", "gas_limit": 21000, "max_fee_per_gas": "30000000000",
        "max_priority_fee_per_gas": "1000000000"});
    let signed = sign_tx(&deployment, "child", &tx, Some(3));
    assert_eq!(address(&signed["from"]), child);
    assert_eq!(signed["path"], "m/0/3");
    broadcast_mined(&chain, &deployment, "child", child);
    assert_eq!(chain.nonce(wallet), 0, "the master account did not send");

    // `tx prepare` fills chain id, nonce, fees and gas for the child account.
    let rpc_env = [("MPC_RPC_URL", anvil.url())];
    let rpc_env: Vec<(&str, &str)> = rpc_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let partial = deployment.path("partial.json");
    std::fs::write(&partial, json!({"to": RECIPIENT, "value": "7"}).to_string()).unwrap();
    let prepared_path = deployment.path("prepared.json");
    let prepared = deployment.mpc_ok_env(
        &rpc_env,
        &[
            "tx",
            "prepare",
            "--share",
            SHARE,
            "--index",
            "3",
            "--tx",
            partial.to_str().unwrap(),
            "--out",
            prepared_path.to_str().unwrap(),
        ],
    );
    let tx = &prepared["tx"];
    assert_eq!(tx["chain_id"], SEPOLIA_CHAIN_ID);
    assert_eq!(tx["nonce"], 1);
    assert_eq!(tx["gas_limit"], 21000);
    assert_eq!(address(&tx["to"]), RECIPIENT.parse::<Address>().unwrap());
    let fee = |field: &str| tx[field].as_str().unwrap().parse::<u128>().unwrap();
    assert!(fee("max_priority_fee_per_gas") <= fee("max_fee_per_gas"));
    assert!(fee("max_fee_per_gas") > 0);
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&prepared_path).unwrap()).unwrap();
    assert_eq!(&on_disk, tx);
    let request = TxRequest::from_json(
        &on_disk.to_string(),
        &mpc_evm::TxPolicy::new(SEPOLIA_CHAIN_ID),
    )
    .unwrap();
    assert_eq!(
        prepared["tx_hash_to_sign"],
        format!("0x{}", hex::encode(request.signing_hash()))
    );

    // Signing with MPC_RPC_URL set also checks the node's chain id first.
    let sig = sig_path(&deployment, "prepared");
    let signed = deployment.mpc_ok_env(
        &rpc_env,
        &[
            "sign",
            "--share",
            SHARE,
            "--index",
            "3",
            "--tx",
            prepared_path.to_str().unwrap(),
            "--out",
            sig.to_str().unwrap(),
        ],
    );
    assert_eq!(address(&signed["from"]), child);
    broadcast_mined(&chain, &deployment, "prepared", child);
    assert_eq!(chain.nonce(child), 2);
}

#[test]
fn personal_and_typed_data_signatures_recover_to_the_mpc_address() {
    let deployment = Deployment::start();
    let wallet = keygen(&deployment);

    let signed = deployment.mpc_ok(&["sign", "--share", SHARE, "--message", "hello mpc"]);
    let signature = recovered_signature(&signed, wallet);
    let recovered = signature.recover_address_from_msg("hello mpc").unwrap();
    assert_eq!(recovered, wallet);

    // 0x-hex is signed as the bytes it spells.
    let signed = deployment.mpc_ok(&["sign", "--share", SHARE, "--message", "0xdeadbeef"]);
    let signature = recovered_signature(&signed, wallet);
    let recovered = signature
        .recover_address_from_msg([0xde, 0xad, 0xbe, 0xef])
        .unwrap();
    assert_eq!(recovered, wallet);

    // Typed data for another chain is refused before any session: the key
    // signs for every chain.
    let mainnet_mail = fixture("eip712_mail.json");
    let (exit, json, _) = deployment.mpc_err(&[
        "sign",
        "--share",
        SHARE,
        "--typed-data",
        mainnet_mail.to_str().unwrap(),
    ]);
    assert_eq!(
        (exit, json["error"]["code"].as_str()),
        (3, Some("invalid_payload")),
        "{json}"
    );
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chain 1"),
        "{json}"
    );
    let (mail, mail_digest) = sepolia_mail(&deployment);
    let signed = deployment.mpc_ok(&[
        "sign",
        "--share",
        SHARE,
        "--typed-data",
        mail.to_str().unwrap(),
    ]);
    let signature = recovered_signature(&signed, wallet);
    let recovered = signature
        .recover_address_from_prehash(&mail_digest)
        .unwrap();
    assert_eq!(recovered, wallet);

    // The same at a child account: recovers to the child, not the master.
    let child =
        address(&deployment.mpc_ok(&["address", "--share", SHARE, "--index", "3"])["address"]);
    let signed = deployment.mpc_ok(&[
        "sign",
        "--share",
        SHARE,
        "--typed-data",
        mail.to_str().unwrap(),
        "--index",
        "3",
    ]);
    let signature = recovered_signature(&signed, child);
    let recovered = signature
        .recover_address_from_prehash(&mail_digest)
        .unwrap();
    assert_eq!(recovered, child);

    // An EIP-7702 authorization: chain id, delegate and nonce, signed on their own.
    let delegate = "0x00000000000000000000000000000000DeaDBeef";
    let auth = deployment.path("auth.json");
    std::fs::write(
        &auth,
        json!({"chain_id": SEPOLIA_CHAIN_ID, "address": delegate, "nonce": 7}).to_string(),
    )
    .unwrap();
    let signed = deployment.mpc_ok(&[
        "sign",
        "--share",
        SHARE,
        "--authorization",
        auth.to_str().unwrap(),
    ]);
    let y_parity = signed["y_parity"].as_u64().expect("y_parity");
    assert_eq!(signed["authorization"]["nonce"], 7);
    let authorization = alloy::eips::eip7702::Authorization {
        chain_id: U256::from(SEPOLIA_CHAIN_ID),
        address: delegate.parse().unwrap(),
        nonce: 7,
    }
    .into_signed(Signature::new(
        signed["r"].as_str().unwrap().parse().unwrap(),
        signed["s"].as_str().unwrap().parse().unwrap(),
        y_parity == 1,
    ));
    assert_eq!(authorization.recover_authority().unwrap(), wallet);
    // One for another chain is refused before any session.
    std::fs::write(
        &auth,
        json!({"chain_id": 1, "address": delegate, "nonce": 7}).to_string(),
    )
    .unwrap();
    let (code, error, _) = deployment.mpc_err(&[
        "sign",
        "--share",
        SHARE,
        "--authorization",
        auth.to_str().unwrap(),
    ]);
    assert_eq!(
        (code, error["error"]["code"].as_str()),
        (3, Some("invalid_tx")),
        "{error}"
    );
}

/// The 65-byte `signature` of a message sign output, after checking that it
/// is `r ‖ s ‖ v` with v 27 or 28, and that `from` is `expected`.
fn recovered_signature(signed: &Value, expected: Address) -> Signature {
    assert_eq!(address(&signed["from"]), expected);
    let v = v_of(signed);
    assert!(
        v == 27 || v == 28,
        "message signatures carry v 27/28, got {v}"
    );
    let bytes = hex::decode(
        signed["signature"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    assert_eq!(bytes.len(), 65);
    let r = signed["r"].as_str().unwrap().trim_start_matches("0x");
    let s = signed["s"].as_str().unwrap().trim_start_matches("0x");
    assert_eq!(hex::encode(&bytes[..32]), r);
    assert_eq!(hex::encode(&bytes[32..64]), s);
    assert_eq!(u64::from(bytes[64]), v);
    Signature::from_raw(&bytes).unwrap()
}

#[test]
fn invalid_transactions_are_refused_before_any_session() {
    let deployment = Deployment::start();
    keygen(&deployment);
    let base = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 0, "to": RECIPIENT,
        "value": "1", "gas_limit": 21000, "gas_price": "2000000000"});

    let mut wrong_chain = base.clone();
    wrong_chain["chain_id"] = 1.into();
    let (exit, code, message) = sign_error(&deployment, &[], "wrong_chain_id", &wrong_chain);
    assert_eq!((exit, code.as_str()), (3, "invalid_tx"));
    assert!(
        message.contains("`chain_id`") && message.contains("11155111"),
        "{message}"
    );

    // The dev address with one letter's case flipped: a wrong EIP-55 checksum.
    let mut bad_checksum = base.clone();
    bad_checksum["to"] = ANVIL_DEV_ADDRESS.replace("Fd6e", "fd6e").into();
    let (exit, code, message) = sign_error(&deployment, &[], "bad_checksum", &bad_checksum);
    assert_eq!((exit, code.as_str()), (3, "invalid_tx"));
    assert!(
        message.contains("`to`") && message.contains("checksum"),
        "{message}"
    );

    let (exit, error, _) = deployment.mpc_err(&["broadcast", "--raw", "0xdeadbeef"]);
    assert_eq!(
        (exit, error["error"]["code"].as_str()),
        (3, Some("invalid_raw_tx"))
    );

    // A node on another chain (mainnet's id) behind MPC_RPC_URL.
    let port = mpc_testkit::free_port();
    let _mainnet = anvil_on(port, &["--chain-id", "1"], deployment.path("mainnet.log"));
    let rpc_url = format!("http://127.0.0.1:{port}");
    let (exit, code, message) =
        sign_error(&deployment, &[("MPC_RPC_URL", &rpc_url)], "valid", &base);
    assert_eq!((exit, code.as_str()), (7, "wrong_chain"));
    assert!(
        message.contains("chain 1,") && message.contains("11155111"),
        "{message}"
    );

    // None of these reached the co-signer; a valid request does (the
    // co-signer's debug log names every request subject it receives).
    let sign_subject = "subject=mpc.v1.cosigner.sign";
    assert!(!deployment.cosigner.logs().contains(sign_subject));
    let tx = deployment.path("valid.json");
    deployment.mpc_ok(&["sign", "--share", SHARE, "--tx", tx.to_str().unwrap()]);
    assert!(deployment.cosigner.logs().contains(sign_subject));
}

/// Runs `mpc sign --tx` on `tx` expecting failure; returns (exit, code, message).
fn sign_error(
    deployment: &Deployment,
    env: &[(&str, &str)],
    name: &str,
    tx: &Value,
) -> (i32, String, String) {
    let path = deployment.path(&format!("{name}.json"));
    std::fs::write(&path, tx.to_string()).unwrap();
    let (exit, error, stderr) = deployment.mpc_err_env(
        env,
        &["sign", "--share", SHARE, "--tx", path.to_str().unwrap()],
    );
    let message = error["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        stderr.contains(&message.replace('\n', " ")),
        "stderr: {stderr}"
    );
    (
        exit,
        error["error"]["code"].as_str().unwrap().to_owned(),
        message,
    )
}

/// `mpc broadcast` decodes the transaction before it connects: bad input is
/// `invalid_raw_tx` (exit 3) even with the broker down, never `broker_unreachable`.
#[test]
fn a_malformed_raw_tx_is_refused_before_connecting() {
    let deployment = Deployment::start();
    let dead = format!("nats://127.0.0.1:{}", mpc_testkit::free_port());
    let output = deployment
        .mpc()
        .env("MPC_NATS_URL", &dead)
        .args(["broadcast", "--raw", "0xdeadbeef", "--json"])
        .output()
        .unwrap();
    let (exit, error, _) = parse_failure(&["broadcast"], &output);
    assert_eq!(
        (exit, error["error"]["code"].as_str()),
        (3, Some("invalid_raw_tx"))
    );
}

/// A subscription to one transaction's broadcast result, made in the test as
/// the client role, before anything could publish it.
struct ResultWatch {
    runtime: tokio::runtime::Runtime,
    subscription: ResultSubscription,
}

impl ResultWatch {
    fn start(deployment: &Deployment, tx_hash: B256) -> ResultWatch {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let subscription = runtime.block_on(async {
            let nats = mpc_session::connect(&deployment.nats.url(Role::Client))
                .await
                .expect("client connects to the broker");
            ResultSubscription::new(&nats, tx_hash).await.unwrap()
        });
        ResultWatch {
            runtime,
            subscription,
        }
    }

    /// The next final result; interim ones (`pending`, ...) are skipped.
    fn next(&mut self, timeout: Duration) -> Option<BroadcastResult> {
        match self
            .runtime
            .block_on(self.subscription.until_final(timeout, None))
        {
            Ok(result) => Some(result),
            Err(BroadcastError::Timeout { .. }) => None,
            Err(error) => panic!("result subscription failed: {error}"),
        }
    }

    /// The one result: success, in the block the node reports, and no second
    /// result follows (a second send would publish a failure).
    fn assert_single_success(&mut self, chain: &Chain, tx_hash: B256, from: Address) {
        let result = self
            .next(Duration::from_secs(60))
            .expect("a broadcast result within 60 s");
        assert_eq!(result.status, BroadcastStatus::Success, "{result:?}");
        let receipt = chain.receipt(tx_hash);
        assert_eq!(receipt.from, from);
        assert_eq!(result.block_number, Some(receipt.block_number));
        assert_eq!(self.next(Duration::from_secs(2)), None, "a second result");
    }
}

/// Signs a 777 wei transfer (nonce 0) and queues it with `--no-wait`;
/// returns its hash after checking it was queued once.
fn sign_and_queue(
    deployment: &Deployment,
    results_for: impl FnOnce(B256) -> ResultWatch,
) -> (B256, ResultWatch) {
    let tx = json!({"chain_id": SEPOLIA_CHAIN_ID, "nonce": 0, "to": RECIPIENT,
        "value": "777", "gas_limit": 21000, "max_fee_per_gas": "30000000000",
        "max_priority_fee_per_gas": "1000000000"});
    let signed = sign_tx(deployment, "queued", &tx, None);
    let tx_hash: B256 = signed["tx_hash"].as_str().unwrap().parse().unwrap();
    let results = results_for(tx_hash);
    let sig = sig_path(deployment, "queued");
    let queue = ["broadcast", "--raw", sig.to_str().unwrap(), "--no-wait"];
    let queued = deployment.mpc_ok(&queue);
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["tx_hash"], signed["tx_hash"]);
    assert_eq!(queued["duplicate"], false);
    // Queued again (a retrying script): dropped as a duplicate, sent once.
    assert_eq!(deployment.mpc_ok(&queue)["duplicate"], true);
    (tx_hash, results)
}

#[test]
fn a_tx_queued_while_the_broadcaster_is_down_is_mined_once_when_it_starts() {
    let anvil = Anvil::start();
    let chain = Chain::connect(&anvil.url());
    let deployment = Deployment::start();
    let wallet = keygen(&deployment);
    chain.fund(wallet, ONE_ETH);
    let recipient: Address = RECIPIENT.parse().unwrap();
    let before = chain.balance(recipient);
    let (tx_hash, mut results) =
        sign_and_queue(&deployment, |hash| ResultWatch::start(&deployment, hash));

    let _broadcaster = deployment.start_broadcaster(&anvil.url());
    results.assert_single_success(&chain, tx_hash, wallet);
    assert_eq!(chain.nonce(wallet), 1);
    assert_eq!(chain.balance(recipient) - before, U256::from(777));
}

#[test]
fn a_tx_queued_while_the_node_is_down_is_mined_once_when_it_comes_back() {
    let port = mpc_testkit::free_port();
    let rpc_url = format!("http://127.0.0.1:{port}");
    let deployment = Deployment::start();
    let mut broadcaster = deployment.start_broadcaster(&rpc_url);
    let wallet = keygen(&deployment);
    let (tx_hash, mut results) =
        sign_and_queue(&deployment, |hash| ResultWatch::start(&deployment, hash));
    assert_eq!(
        results.next(Duration::from_secs(1)),
        None,
        "no node, no final result"
    );
    assert!(broadcaster.is_running(), "{}", broadcaster.logs());
    assert!(broadcaster.logs().contains("not reachable yet"));

    // The node comes up on that port, with the wallet funded from genesis.
    let genesis = deployment.path("genesis.json");
    std::fs::write(&genesis, genesis_funding(wallet).to_string()).unwrap();
    let _node = anvil_on(
        port,
        &["--init", genesis.to_str().unwrap()],
        deployment.path("anvil.log"),
    );
    let chain = Chain::connect(&rpc_url);
    results.assert_single_success(&chain, tx_hash, wallet);
    assert_eq!(chain.nonce(wallet), 1);
    assert_eq!(chain.balance(RECIPIENT.parse().unwrap()), U256::from(777));
}

/// An anvil genesis on Sepolia's chain id that gives `owner` one ether.
fn genesis_funding(owner: Address) -> Value {
    let zero_hash = format!("0x{}", "00".repeat(32));
    json!({
        "config": {"chainId": SEPOLIA_CHAIN_ID},
        "alloc": {owner.to_string(): {"balance": format!("{ONE_ETH:#x}")}},
        "nonce": "0x0", "timestamp": "0x0", "extraData": "0x", "number": "0x0",
        "gasLimit": "0x1c9c380", "gasUsed": "0x0", "difficulty": "0x0",
        "baseFeePerGas": "0x3b9aca00", "mixHash": zero_hash, "parentHash": zero_hash,
        "coinbase": Address::ZERO,
    })
}

#[test]
fn the_cosigner_refuses_payloads_it_would_not_sign_itself() {
    let deployment = Deployment::start();
    let wallet = keygen(&deployment);
    // The client's own identity and pinned co-signer key, from its share file
    // (plaintext: CBOR {key_share, identity}, see mpc-cli's client_share.rs).
    let passphrase = Passphrase::new(CLIENT_PASSPHRASE.to_owned()).unwrap();
    let share = mpc_store::load_share(
        &deployment.path(SHARE),
        Expect::party(ShareParty::Client),
        Some(&passphrase),
    )
    .unwrap();
    let plaintext: ciborium::Value = ciborium::from_reader(&share.plaintext[..]).unwrap();
    let identity = plaintext
        .as_map()
        .and_then(|map| {
            map.iter()
                .find(|(key, _)| key.as_text() == Some("identity"))
        })
        .and_then(|(_, value)| value.as_bytes())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .expect("a 32-byte identity key in the share");
    let cosigner_pub: [u8; 32] = hex::decode(&share.info.metadata["peer_identity"])
        .unwrap()
        .try_into()
        .unwrap();

    let on_mainnet = TxRequest {
        chain_id: 1,
        nonce: 0,
        to: mpc_evm::TxKind::Call(RECIPIENT.parse().unwrap()),
        value: U256::from(1),
        gas_limit: 21_000,
        fees: Fees::Legacy {
            gas_price: 2_000_000_000,
        },
        data: Default::default(),
        access_list: None,
        authorization_list: None,
    };
    let refusals = [
        (SignPayload::Transaction(on_mainnet), "chain_id"),
        (
            SignPayload::TypedData(json!({"primaryType": "Mail", "message": "not typed data"})),
            "EIP-712",
        ),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let nats = mpc_session::connect(&deployment.nats.url(Role::Client))
            .await
            .unwrap();
        let identity = Identity::from_bytes(&identity).unwrap();
        let sessions = SessionClient::new(nats, identity, SessionConfig::default());
        for (payload, reason) in refusals {
            let request = SignRequest {
                wallet_id: share.info.wallet_id.clone(),
                share_version: share.info.share_version,
                path: "m".into(),
                payload,
            };
            let opened = sessions
                .open(
                    &cosigner_pub,
                    &Op::Sign,
                    &SessionId::random(),
                    &encode(&request),
                )
                .await;
            match opened {
                Err(SessionError::Rejected {
                    rejection,
                    authenticated,
                    ..
                }) => {
                    assert_eq!(
                        rejection.code,
                        RejectionCode::InvalidPayload.as_str(),
                        "{rejection}"
                    );
                    assert!(rejection.message.contains(reason), "{rejection}");
                    assert!(authenticated, "the refusal comes from the pinned co-signer");
                }
                Err(error) => panic!("expected an invalid_payload refusal, got {error}"),
                Ok(_) => panic!("the co-signer accepted to sign {:?}", request.payload),
            }
        }
    });
    // The same identity and wallet still sign what the co-signer accepts.
    let signed = deployment.mpc_ok(&["sign", "--share", SHARE, "--message", "still fine"]);
    assert_eq!(address(&signed["from"]), wallet);
}
