//! The real mpc-broadcaster binary against a real nats-server and anvil.

mod support;

use std::time::{Duration, Instant};

use alloy::providers::{Provider, RootProvider};
use mpc_api::broadcast::{
    queue_raw_tx, BroadcastError, BroadcastStatus, ResultSubscription, SUBMIT_SUBJECT,
};
use mpc_evm::{EvmRpc, U256};
use mpc_testkit::{Anvil, NatsServer, Role, ANVIL_DEV_KEY, SEPOLIA_CHAIN_ID};

use support::*;

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
    let result = results.until_final(RESULT_TIMEOUT, None).await.unwrap();
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
        &results.until_final(RESULT_TIMEOUT, None).await.unwrap(),
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
        &results.until_final(RESULT_TIMEOUT, None).await.unwrap(),
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
            Ok(result) if result.status.is_final() => break result,
            Ok(_interim) => {}
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
        (
            nonce_too_low,
            "nonce 0 of 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 is already used by another transaction",
        ),
    ] {
        let (mut results, _) = queue(&client_nats, &js, &raw).await;
        let result = results.until_final(RESULT_TIMEOUT, None).await.unwrap();
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
    let result = results.until_final(RESULT_TIMEOUT, None).await.unwrap();
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
