//! What the broadcaster tests share: the process, signed transfers from
//! dev keys (an independent signer: these tests are about the broadcaster),
//! queueing and checking results.

#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use async_nats::jetstream;
use mpc_api::broadcast::{
    queue_raw_tx, BroadcastResult, BroadcastStatus, ResultSubscription, CONSUMER_NAME, STREAM_NAME,
};
use mpc_evm::{Address, EvmRpc, Fees, TxKind, TxRequest, B256, U256};
use mpc_testkit::{NatsServer, Role, SEPOLIA_CHAIN_ID};

/// Anvil's second dev account.
pub const SECOND_DEV_KEY: &str =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
pub const RESULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Where the tests' transfers go.
pub const SINK: &str = "0x3535353535353535353535353535353535353535";
/// The fee cap of every test transfer: 5 gwei.
pub const MAX_FEE: u128 = 5_000_000_000;

/// The broadcaster process; its JSON log is kept in a temp file for assertions.
pub struct Broadcaster {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Broadcaster {
    pub fn start(nats_url: &str, rpc_url: &str, extra: &[&str]) -> Self {
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

    pub fn command(nats_url: &str, rpc_url: &str, extra: &[&str]) -> Command {
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Until it pulls from the queue (its stream and consumer made).
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains(r#""message":"ready""#) {
            assert!(Instant::now() < deadline, "not ready: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`: no chance to tidy up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Broadcaster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// anvil on a chosen port, so a test can take the node away and bring it back.
pub fn anvil_on(port: u16) -> Child {
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

/// A signed transfer of `value` wei to `to`, fee cap [`MAX_FEE`].
pub fn signed_transfer_to(
    signer: &PrivateKeySigner,
    to: Address,
    nonce: u64,
    chain_id: u64,
    value: U256,
) -> (Vec<u8>, B256) {
    let tx = TxRequest {
        chain_id,
        nonce,
        to: TxKind::Call(to),
        value,
        gas_limit: 21_000,
        fees: Fees::Eip1559 {
            max_fee_per_gas: MAX_FEE,
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

/// A transfer of `value` wei to [`SINK`] from the account of `key`.
pub fn signed_transfer(key: &str, nonce: u64, chain_id: u64, value: u64) -> (Vec<u8>, B256) {
    let signer: PrivateKeySigner = key.parse().unwrap();
    signed_transfer_to(
        &signer,
        SINK.parse().unwrap(),
        nonce,
        chain_id,
        U256::from(value),
    )
}

/// One broker or a cluster of them: where a role connects.
pub trait Broker {
    fn url(&self, role: Role) -> String;
}

impl Broker for NatsServer {
    fn url(&self, role: Role) -> String {
        NatsServer::url(self, role)
    }
}

impl Broker for mpc_testkit::NatsCluster {
    fn url(&self, role: Role) -> String {
        mpc_testkit::NatsCluster::url(self, role)
    }
}

pub async fn client(nats: &impl Broker, role: Role) -> (async_nats::Client, jetstream::Context) {
    let client = mpc_session::connect(&nats.url(role)).await.unwrap();
    (client.clone(), jetstream::new(client))
}

/// Subscribes to the transaction's statuses, then queues it; also says
/// whether the queue dropped it as a duplicate.
pub async fn queue(
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

/// The next status published for this transaction that is `status`,
/// skipping others (e.g. `pending` before `success`).
pub async fn next_with(
    results: &mut ResultSubscription,
    status: BroadcastStatus,
) -> BroadcastResult {
    let deadline = Instant::now() + RESULT_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let result = results
            .next(left)
            .await
            .unwrap_or_else(|e| panic!("no {status:?}: {e}"));
        if result.status == status {
            return result;
        }
        assert!(
            !result.status.is_final(),
            "expected {status:?}, got {result:?}"
        );
    }
}

pub async fn assert_mined(rpc_url: &str, result: &BroadcastResult, tx_hash: B256) {
    assert_eq!(result.tx_hash, tx_hash);
    assert_eq!(result.status, BroadcastStatus::Success, "{result:?}");
    assert_eq!(result.error, None);
    let rpc = EvmRpc::connect(rpc_url, SEPOLIA_CHAIN_ID).await.unwrap();
    let receipt = rpc.receipt(tx_hash).await.unwrap().expect("mined");
    assert!(receipt.success);
    assert_eq!(result.block_number, Some(receipt.block_number));
    let stored = result.receipt.expect("receipt fields");
    assert_eq!(
        (stored.block_hash, stored.from),
        (receipt.block_hash, receipt.from)
    );
}

/// Messages still in the work queue, and deliveries made by the consumer.
pub async fn queue_state(nats: &impl Broker) -> (u64, u64) {
    let (_, js) = client(nats, Role::Broadcaster).await;
    let mut stream = js.get_stream(STREAM_NAME).await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    let mut consumer: jetstream::consumer::PullConsumer =
        stream.get_consumer(CONSUMER_NAME).await.unwrap();
    let delivered = consumer.info().await.unwrap().delivered.stream_sequence;
    (messages, delivered)
}
