//! No head-of-line blocking: one lane per sender, transactions that cannot
//! be mined yet reported and retried, confirmations tracked concurrently,
//! and several broadcasters sharing one queue.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use alloy::providers::{Provider, RootProvider};
use alloy::signers::local::PrivateKeySigner;
use mpc_api::broadcast::{stored_result, BroadcastStatus, FeeGap, NonceGap, ResultSubscription};
use mpc_evm::{Address, EvmRpc, B256, U256};
use mpc_testkit::{Anvil, NatsServer, Role, ANVIL_DEV_KEY, SEPOLIA_CHAIN_ID};

use support::*;

/// Anvil's third dev account, whose nonce no other test here uses.
const THIRD_DEV_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

fn address_of(key: &str) -> Address {
    key.parse::<PrivateKeySigner>().unwrap().address()
}

#[tokio::test]
async fn a_nonce_gap_is_reported_and_blocks_no_other_sender() {
    let nats = NatsServer::start();
    let anvil = Anvil::start();
    let _broadcaster = Broadcaster::start(&nats.url(Role::Broadcaster), &anvil.url(), &[]);
    let (client_nats, js) = client(&nats, Role::Client).await;

    // Nonce 5 on a fresh account, then another sender's valid transaction.
    let (gapped, gapped_hash) = signed_transfer(THIRD_DEV_KEY, 5, SEPOLIA_CHAIN_ID, 1);
    let (mut gapped_results, _) = queue(&client_nats, &js, &gapped).await;
    let (other, other_hash) = signed_transfer(ANVIL_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 1);
    let (mut other_results, _) = queue(&client_nats, &js, &other).await;

    let waiting = next_with(&mut gapped_results, BroadcastStatus::WaitingForNonce).await;
    let gap = NonceGap {
        nonce: 5,
        next_nonce: 0,
    };
    assert_eq!(waiting.nonce_gap, Some(gap), "{waiting:?}");
    let other_result = other_results
        .until_final(RESULT_TIMEOUT, None)
        .await
        .unwrap();
    assert_mined(&anvil.url(), &other_result, other_hash).await;
    // Asked again, the client reads the same from the bucket.
    let stored = stored_result(&js, &gapped_hash).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.nonce_gap),
        (BroadcastStatus::WaitingForNonce, Some(gap))
    );

    // Filling the gap: nonces 0..4 mine in order, then the gapped one.
    let mut fillers = Vec::new();
    for nonce in 0..5 {
        let (raw, hash) = signed_transfer(THIRD_DEV_KEY, nonce, SEPOLIA_CHAIN_ID, 1);
        fillers.push((queue(&client_nats, &js, &raw).await.0, hash));
    }
    for (mut results, hash) in fillers {
        let result = results.until_final(RESULT_TIMEOUT, None).await.unwrap();
        assert_mined(&anvil.url(), &result, hash).await;
    }
    let result = gapped_results
        .until_final(RESULT_TIMEOUT, None)
        .await
        .unwrap();
    assert_mined(&anvil.url(), &result, gapped_hash).await;
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    assert_eq!(rpc.nonce(address_of(THIRD_DEV_KEY)).await.unwrap(), 6);
}

#[tokio::test]
async fn an_underpriced_transaction_is_reported_and_mined_once_the_base_fee_falls() {
    let nats = NatsServer::start();
    // 10 gwei: twice the test transfers' fee cap.
    let anvil = Anvil::start_with(&["--block-base-fee-per-gas", "10000000000"]);
    let _broadcaster = Broadcaster::start(&nats.url(Role::Broadcaster), &anvil.url(), &[]);
    let (client_nats, js) = client(&nats, Role::Client).await;

    let (raw, tx_hash) = signed_transfer(ANVIL_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 1);
    let (mut results, _) = queue(&client_nats, &js, &raw).await;
    let underpriced = next_with(&mut results, BroadcastStatus::Underpriced).await;
    assert_eq!(
        underpriced.fee_gap,
        Some(FeeGap {
            max_fee_per_gas: MAX_FEE,
            base_fee_per_gas: 10_000_000_000,
        }),
        "{underpriced:?}"
    );
    // Another sender is not held up meanwhile.
    let (other, other_hash) = signed_transfer_with_fee(SECOND_DEV_KEY, 20_000_000_000);
    let (mut other_results, _) = queue(&client_nats, &js, &other).await;
    let other_result = other_results
        .until_final(RESULT_TIMEOUT, None)
        .await
        .unwrap();
    assert_mined(&anvil.url(), &other_result, other_hash).await;

    // Empty blocks lower the base fee by 1/8 each: 10 take it below 5 gwei.
    let node: RootProvider = RootProvider::new_http(anvil.url().parse().unwrap());
    let _: serde_json::Value = node
        .raw_request("anvil_mine".into(), (U256::from(10),))
        .await
        .unwrap();
    let result = results.until_final(RESULT_TIMEOUT, None).await.unwrap();
    assert_mined(&anvil.url(), &result, tx_hash).await;
}

/// A transfer from `key`'s account (nonce 0) with this fee cap.
fn signed_transfer_with_fee(key: &str, max_fee: u128) -> (Vec<u8>, B256) {
    use alloy::signers::SignerSync;
    let tx = mpc_evm::TxRequest {
        chain_id: SEPOLIA_CHAIN_ID,
        nonce: 0,
        to: mpc_evm::TxKind::Call(SINK.parse().unwrap()),
        value: U256::from(1),
        gas_limit: 21_000,
        fees: mpc_evm::Fees::Eip1559 {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: 1_000_000_000,
        },
        data: Default::default(),
        access_list: None,
        authorization_list: None,
    };
    let signer: PrivateKeySigner = key.parse().unwrap();
    let signature = signer
        .sign_hash_sync(&B256::from(tx.signing_hash()))
        .unwrap();
    let signed = tx.assemble(&signature).unwrap();
    (signed.raw_tx.to_vec(), signed.tx_hash)
}

/// Fresh accounts, funded by the first dev account (sent directly).
async fn funded_senders(rpc: &EvmRpc, count: usize) -> Vec<PrivateKeySigner> {
    let funder: PrivateKeySigner = ANVIL_DEV_KEY.parse().unwrap();
    let start = rpc.nonce(funder.address()).await.unwrap();
    let senders: Vec<PrivateKeySigner> = (0..count).map(|_| PrivateKeySigner::random()).collect();
    let mut hashes = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let ether = U256::from(10).pow(U256::from(18));
        let (raw, hash) = signed_transfer_to(
            &funder,
            sender.address(),
            start + i as u64,
            SEPOLIA_CHAIN_ID,
            ether,
        );
        rpc.send_raw(&raw).await.unwrap();
        hashes.push(hash);
    }
    for hash in hashes {
        while rpc.receipt(hash).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    senders
}

#[tokio::test]
async fn a_hundred_transactions_from_ten_senders_are_confirmed_together() {
    let nats = NatsServer::start();
    let anvil = Anvil::start_with(&["--block-time", "1"]);
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    let senders = funded_senders(&rpc, 10).await;
    let _broadcaster = Broadcaster::start(&nats.url(Role::Broadcaster), &anvil.url(), &[]);
    let (client_nats, js) = client(&nats, Role::Client).await;

    // Interleaved: sender 0's nonce 0, sender 1's nonce 0, …
    let mut queued = Vec::new();
    for nonce in 0..10 {
        for sender in &senders {
            let (raw, hash) = signed_transfer_to(
                sender,
                SINK.parse().unwrap(),
                nonce,
                SEPOLIA_CHAIN_ID,
                U256::from(1),
            );
            queued.push((queue(&client_nats, &js, &raw).await.0, hash));
        }
    }
    let mut blocks = BTreeSet::new();
    for (mut results, hash) in queued {
        let result = results.until_final(RESULT_TIMEOUT, None).await.unwrap();
        assert_eq!(
            (result.tx_hash, result.status),
            (hash, BroadcastStatus::Success)
        );
        blocks.insert(result.block_number.unwrap());
    }
    for sender in &senders {
        assert_eq!(rpc.nonce(sender.address()).await.unwrap(), 10);
    }
    // One at a time, confirming each before the next, would take 100
    // blocks; concurrently they fit in the few blocks of the slowest.
    assert!(
        blocks.len() <= 5,
        "mined across {} blocks: {blocks:?}",
        blocks.len()
    );
}

#[tokio::test]
async fn a_broadcaster_killed_mid_wait_loses_nothing_and_each_result_comes_once() {
    killed_mid_wait(&NatsServer::start(), &[]).await;
}

/// The same with the stream and results bucket replicated on a 3-node
/// cluster (R3), each broadcaster on another node.
#[tokio::test]
async fn on_a_cluster_a_broadcaster_killed_mid_wait_loses_nothing() {
    let cluster = mpc_testkit::NatsCluster::start();
    killed_mid_wait(&cluster, &["--replicas", "3"]).await;
    let (_, js) = client(&cluster, Role::Broadcaster).await;
    for stream in [mpc_api::broadcast::STREAM_NAME, "KV_MPC_BROADCAST_RESULTS"] {
        let replicas = stream_info(&js, stream)
            .await
            .cluster
            .expect("clustered")
            .replicas;
        assert_eq!(replicas.len(), 2, "{stream} has a leader and two replicas");
    }
}

async fn killed_mid_wait(nats: &impl Broker, extra: &[&str]) {
    let anvil = Anvil::start_with(&["--no-mining"]);
    let node: RootProvider = RootProvider::new_http(anvil.url().parse().unwrap());
    let flags = [&["--ack-wait-secs", "3"][..], extra].concat();
    let mut first = Broadcaster::start(&nats.url(Role::Broadcaster), &anvil.url(), &flags);
    // The broadcaster makes the stream (at its replicas) before anything is queued.
    first.wait_ready();
    let (client_nats, js) = client(nats, Role::Client).await;

    let mut subscriptions: Vec<(ResultSubscription, B256)> = Vec::new();
    let keys = [ANVIL_DEV_KEY, SECOND_DEV_KEY, THIRD_DEV_KEY];
    // The first half goes to the first broadcaster alone, the second half to
    // whichever of the two pulls it.
    let queue_half = async |nonces: std::ops::Range<u64>| {
        let mut half = Vec::new();
        for key in keys {
            for nonce in nonces.clone() {
                let (raw, hash) = signed_transfer(key, nonce, SEPOLIA_CHAIN_ID, 1);
                half.push((queue(&client_nats, &js, &raw).await.0, hash));
            }
        }
        for (results, _) in &mut half {
            next_with(results, BroadcastStatus::Pending).await;
        }
        half
    };
    subscriptions.extend(queue_half(0..3).await);
    let _second = Broadcaster::start(&nats.url(Role::Broadcaster), &anvil.url(), &flags);
    subscriptions.extend(queue_half(3..6).await);

    // Killed while waiting for blocks that never come; then blocks come.
    first.kill();
    assert!(first.log().contains("pending"), "{}", first.log());
    let _: serde_json::Value = node
        .raw_request("anvil_mine".into(), (U256::from(1),))
        .await
        .unwrap();
    let mut finals: HashMap<B256, usize> = HashMap::new();
    for (results, hash) in &mut subscriptions {
        let result = results.until_final(RESULT_TIMEOUT, None).await.unwrap();
        assert_mined(&anvil.url(), &result, *hash).await;
        *finals.entry(*hash).or_default() += 1;
    }
    // Nothing else comes: every result was published once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (results, hash) in &mut subscriptions {
        if let Ok(extra) = results.next(Duration::from_millis(10)).await {
            panic!("a second status for {hash}: {extra:?}");
        }
    }
    assert_eq!(finals.len(), 18);
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID)
        .await
        .unwrap();
    for key in keys {
        assert_eq!(
            rpc.nonce(address_of(key)).await.unwrap(),
            6,
            "mined once each"
        );
    }
    assert_eq!(queue_state(nats).await.0, 0, "nothing left queued");
}

/// A client may queue before any broadcaster ran: the stream it made (one
/// replica) is scaled to three by the broadcaster, which waits while the
/// cluster places the replicas, and the transaction is mined.
#[tokio::test]
async fn on_a_cluster_what_was_queued_before_any_broadcaster_is_mined() {
    let cluster = mpc_testkit::NatsCluster::start();
    let anvil = Anvil::start();
    let (client_nats, js) = client(&cluster, Role::Client).await;
    let (raw, hash) = signed_transfer(ANVIL_DEV_KEY, 0, SEPOLIA_CHAIN_ID, 1);
    let (mut results, _) = queue(&client_nats, &js, &raw).await;
    let broadcaster = Broadcaster::start(
        &cluster.url(Role::Broadcaster),
        &anvil.url(),
        &["--replicas", "3"],
    );
    broadcaster.wait_ready();
    let result = results.until_final(RESULT_TIMEOUT, None).await.unwrap();
    assert_mined(&anvil.url(), &result, hash).await;
    let (_, js) = client(&cluster, Role::Broadcaster).await;
    let info = stream_info(&js, mpc_api::broadcast::STREAM_NAME).await;
    assert_eq!(info.config.num_replicas, 3, "scaled up by the broadcaster");
}

async fn stream_info(
    js: &async_nats::jetstream::Context,
    name: &str,
) -> async_nats::jetstream::stream::Info {
    js.get_stream(name)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone()
}
