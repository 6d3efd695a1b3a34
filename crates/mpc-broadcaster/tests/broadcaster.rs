//! The real mpc-broadcaster binary against a real nats-server and anvil.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::providers::{Provider, RootProvider};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use async_nats::jetstream;
use mpc_api::broadcast::{
    queue_raw_tx, BroadcastError, BroadcastResult, BroadcastStatus, ResultSubscription,
    CONSUMER_NAME, STREAM_NAME, SUBMIT_SUBJECT,
};
use mpc_evm::{EvmRpc, Fees, TxKind, TxRequest, B256, U256};
use mpc_testkit::{Anvil, NatsServer, Role, ANVIL_DEV_KEY, SEPOLIA_CHAIN_ID};

/// Anvil's second dev account.
const SECOND_DEV_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const RESULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The broadcaster process; its JSON log is kept in a temp file for assertions.
struct Broadcaster {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Broadcaster {
    fn start(nats_url: &str, rpc_url: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("broadcaster.log");
        let child = Self::command(nats_url, rpc_url, extra)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Broadcaster {
            child,
            log,
            _dir: dir,
        }
    }

    fn command(nats_url: &str, rpc_url: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mpc-broadcaster"));
        cmd.args(["--poll-interval-ms", "100"])
            .args(extra)
            .env("MPC_NATS_URL", nats_url)
            .env("MPC_RPC_URL", rpc_url)
            .env("MPC_CHAIN_ID", SEPOLIA_CHAIN_ID.to_string())
            .env("MPC_LOG", "info")
            .stdout(Stdio::null());
        cmd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Broadcaster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// anvil on a chosen port, so a test can take the node away and bring it back.
fn anvil_on(port: u16) -> Child {
    let child = Command::new(mpc_testkit::tool("anvil"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--chain-id", &SEPOLIA_CHAIN_ID.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "anvil did not start on {port}");
        std::thread::sleep(Duration::from_millis(25));
    }
    child
}

fn signed_transfer(key: &str, nonce: u64, chain_id: u64, value: u64) -> (Vec<u8>, B256) {
    let signer: PrivateKeySigner = key.parse().unwrap();
    let tx = TxRequest {
        chain_id,
        nonce,
        to: TxKind::Call(
            "0x3535353535353535353535353535353535353535"
                .parse()
                .unwrap(),
        ),
        value: U256::from(value),
        gas_limit: 21_000,
        fees: Fees::Eip1559 {
            max_fee_per_gas: 5_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
        },
        data: Default::default(),
        access_list: None,
        authorization_list: None,
    };
    let signature = signer
        .sign_hash_sync(&B256::from(tx.signing_hash()))
        .unwrap();
    let signed = tx.assemble(&signature).unwrap();
    (signed.raw_tx.to_vec(), signed.tx_hash)
}

async fn client(nats: &NatsServer, role: Role) -> (async_nats::Client, jetstream::Context) {
    let client = mpc_session::connect(&nats.url(role)).await.unwrap();
    (client.clone(), jetstream::new(client))
}

async fn queue(
    nats: &async_nats::Client,
    js: &jetstream::Context,
    raw: &[u8],
) -> (ResultSubscription, bool) {
    let tx_hash = mpc_evm::decode_raw_tx(raw).unwrap().tx_hash;
    let subscription = ResultSubscription::new(nats, tx_hash).await.unwrap();
    let queued = queue_raw_tx(js, raw).await.unwrap();
    assert_eq!(queued.tx_hash, tx_hash);
    (subscription, queued.duplicate)
}

async fn assert_mined(rpc_url: &str, result: &BroadcastResult, tx_hash: B256) {
    assert_eq!(result.tx_hash, tx_hash);
    assert_eq!(result.status, BroadcastStatus::Success, "{result:?}");
    assert_eq!(result.error, None);
    let rpc = EvmRpc::connect(rpc_url, SEPOLIA_CHAIN_ID).await.unwrap();
    let receipt = rpc.receipt(tx_hash).await.unwrap().expect("mined");
    assert!(receipt.success);
    assert_eq!(result.block_number, Some(receipt.block_number));
}

/// Messages still in the work queue, and deliveries made by the consumer.
async fn queue_state(nats: &NatsServer) -> (u64, u64) {
    let (_, js) = client(nats, Role::Broadcaster).await;
    let mut stream = js.get_stream(STREAM_NAME).await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    let mut consumer: jetstream::consumer::PullConsumer =
        stream.get_consumer(CONSUMER_NAME).await.unwrap();
    let delivered = consumer.info().await.unwrap().delivered.stream_sequence;
    (messages, delivered)
}

#[tokio::test]
async fn tx_queued_while_broadcaster_is_down_is_mined_once_and_a_duplicate_is_dropped() {
    let nats = NatsServer::start();
    let anvil = Anvil::start();
    let (client_nats, js) = client(&nats, Role::Client).await;
    let (raw, tx_hash) = signed_transfer(ANVIL_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 1);
    let (mut results, duplicate) = queue(&client_nats, &js, &raw).await;
    assert!(!duplicate);
    let (_, duplicate) = queue(&client_nats, &js, &raw).await;
    assert!(duplicate, "the second copy must be deduplicated by tx hash");

    let _broadcaster = Broadcaster::start(&nats.url(Role::Broadcaster), &anvil.url(), &[]);
    let result = results.next(RESULT_TIMEOUT).await.unwrap();
    assert_mined(&anvil.url(), &result, tx_hash).await;
    assert!(matches!(
        results.next(Duration::from_secs(2)).await,
        Err(BroadcastError::Timeout { .. })
    ));
    assert_eq!(
        queue_state(&nats).await,
        (0, 1),
        "one delivery, nothing left queued"
    );
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let sender = mpc_testkit::ANVIL_DEV_ADDRESS.parse().unwrap();
    assert_eq!(rpc.nonce(sender).await.unwrap(), 1);
}

#[tokio::test]
async fn rpc_down_is_retried_until_the_node_returns() {
    let nats = NatsServer::start();
    let port = mpc_testkit::free_port();
    let rpc_url = format!("http://127.0.0.1:{port}");
    let broadcaster = Broadcaster::start(&nats.url(Role::Broadcaster), &rpc_url, &[]);
    let (client_nats, js) = client(&nats, Role::Client).await;

    // Node down from the start.
    let (raw, tx_hash) = signed_transfer(ANVIL_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 1);
    let (mut results, _) = queue(&client_nats, &js, &raw).await;
    assert!(results.next(Duration::from_secs(2)).await.is_err());
    let mut node = anvil_on(port);
    assert_mined(
        &rpc_url,
        &results.next(RESULT_TIMEOUT).await.unwrap(),
        tx_hash,
    )
    .await;

    // Node lost while running (a fresh anvil comes back, so use an unused account).
    let _ = node.kill();
    let _ = node.wait();
    let (raw, tx_hash) = signed_transfer(SECOND_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 2);
    let (mut results, _) = queue(&client_nats, &js, &raw).await;
    assert!(results.next(Duration::from_secs(2)).await.is_err());
    let mut node = anvil_on(port);
    assert_mined(
        &rpc_url,
        &results.next(RESULT_TIMEOUT).await.unwrap(),
        tx_hash,
    )
    .await;
    let _ = node.kill();
    let _ = node.wait();
    assert!(
        broadcaster.log().contains("retrying"),
        "{}",
        broadcaster.log()
    );
}

#[tokio::test]
async fn a_reorged_transaction_is_resubmitted_and_confirmed() {
    let nats = NatsServer::start();
    let anvil = Anvil::start();
    let node: RootProvider = RootProvider::new_http(anvil.url().parse().unwrap());
    let snapshot: U256 = node.raw_request("evm_snapshot".into(), ()).await.unwrap();
    let broadcaster = Broadcaster::start(
        &nats.url(Role::Broadcaster),
        &anvil.url(),
        &["--confirmations", "3"],
    );
    let (client_nats, js) = client(&nats, Role::Client).await;
    let (raw, tx_hash) = signed_transfer(ANVIL_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 1);
    let (mut results, _) = queue(&client_nats, &js, &raw).await;

    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let deadline = Instant::now() + RESULT_TIMEOUT;
    while rpc.receipt(tx_hash).await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "never mined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // let the broadcaster see the receipt
    let reverted: bool = node
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .unwrap();
    assert!(reverted);
    assert_eq!(
        rpc.receipt(tx_hash).await.unwrap(),
        None,
        "the reorg removed the tx"
    );

    // Blocks keep coming; the broadcaster must put the tx back and wait 3 confirmations.
    let result = loop {
        match results.next(Duration::from_millis(300)).await {
            Ok(result) => break result,
            Err(BroadcastError::Timeout { .. }) => {
                assert!(
                    Instant::now() < deadline + RESULT_TIMEOUT,
                    "no result after the reorg"
                );
                let _: String = node.raw_request("evm_mine".into(), ()).await.unwrap();
            }
            Err(other) => panic!("{other}"),
        }
    };
    assert_mined(&anvil.url(), &result, tx_hash).await;
    assert!(broadcaster.log().contains("reorg"), "{}", broadcaster.log());
}

#[tokio::test]
async fn unsendable_transactions_get_clear_failed_results() {
    let nats = NatsServer::start();
    let anvil = Anvil::start();
    let _broadcaster = Broadcaster::start(&nats.url(Role::Broadcaster), &anvil.url(), &[]);
    let (client_nats, js) = client(&nats, Role::Client).await;

    let (wrong_chain, _) = signed_transfer(ANVIL_DEV_KEY, 0, 1, 1);
    let (used, _) = signed_transfer(ANVIL_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 1);
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    rpc.send_raw(&used).await.unwrap();
    let (nonce_too_low, _) = signed_transfer(ANVIL_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 2);

    for (raw, needle) in [
        (wrong_chain, "wrong chain id"),
        (nonce_too_low, "nonce too low"),
    ] {
        let (mut results, _) = queue(&client_nats, &js, &raw).await;
        let result = results.next(RESULT_TIMEOUT).await.unwrap();
        assert_eq!(result.status, BroadcastStatus::Failed);
        assert_eq!(result.block_number, None);
        let error = result.error.unwrap();
        assert!(error.contains(needle), "{error:?} should say {needle:?}");
    }

    // Malformed bytes never pass queue_raw_tx, so publish them directly.
    let garbage = b"\x02not a transaction".to_vec();
    assert!(queue_raw_tx(&js, &garbage).await.is_err());
    let tx_hash = mpc_evm::raw::raw_tx_hash(&garbage);
    let mut results = ResultSubscription::new(&client_nats, tx_hash)
        .await
        .unwrap();
    js.publish(SUBMIT_SUBJECT, garbage.into())
        .await
        .unwrap()
        .await
        .unwrap();
    let result = results.next(RESULT_TIMEOUT).await.unwrap();
    assert_eq!(
        (result.tx_hash, result.status),
        (tx_hash, BroadcastStatus::Failed)
    );
    assert!(result.error.unwrap().contains("malformed"));
    assert_eq!(
        queue_state(&nats).await,
        (0, 3),
        "failed messages are not redelivered"
    );
}

#[test]
fn a_node_on_the_wrong_chain_stops_the_broadcaster() {
    let nats = NatsServer::start();
    let anvil = Anvil::start();
    let output = Broadcaster::command(&nats.url(Role::Broadcaster), &anvil.url(), &[])
        .env("MPC_CHAIN_ID", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is on chain 11155111, but chain 1 is expected"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(nats.password(Role::Broadcaster)),
        "password leaked: {stderr}"
    );
}
