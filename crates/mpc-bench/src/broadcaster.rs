//! Broadcaster throughput: transactions from 10 senders (dev-key signed,
//! so only the broadcaster is measured) queued at once, timed until every
//! one has its final result, on anvil with automine. Where the time goes:
//! queueing (JetStream publish acks) against the broadcaster's own work.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use anyhow::{ensure, Context};
use async_nats::jetstream;
use futures::StreamExt;
use mpc_api::broadcast::{queue_raw_tx, BroadcastResult, BroadcastStatus, RESULT_SUBJECT_PREFIX};
use mpc_evm::{EvmRpc, Fees, TxKind, TxRequest, B256, U256};
use mpc_testkit::{Anvil, SEPOLIA_CHAIN_ID};
use serde::Serialize;

use crate::stats::{milliseconds, round2, Summary};

pub const SENDERS: usize = 10;
const RECIPIENT: &str = "0x3535353535353535353535353535353535353535";
const CONFIRMED_WITHIN: Duration = Duration::from_secs(120);

#[derive(Debug, Serialize)]
pub struct BroadcasterThroughput {
    pub senders: usize,
    pub transactions: usize,
    /// All queued (each publish acked by JetStream), from the first.
    pub queued_ms: f64,
    /// All confirmed (each final result received), from the first queued.
    pub confirmed_ms: f64,
    /// Transactions accepted and confirmed per second over the whole run.
    pub tx_per_s: f64,
    /// Queued until its final result, per transaction.
    pub latency: Summary,
}

/// Funds `SENDERS` fresh accounts through anvil, signs `per_sender`
/// transfers for each, queues them all through the broker at `nats_url`
/// (the client's user; a broadcaster must be running) and waits for every
/// final result.
pub async fn measure(
    nats_url: &str,
    anvil: &Anvil,
    per_sender: usize,
) -> anyhow::Result<BroadcasterThroughput> {
    let rpc = EvmRpc::connect(&anvil.url(), SEPOLIA_CHAIN_ID).await?;
    let senders: Vec<PrivateKeySigner> = (0..SENDERS).map(|_| PrivateKeySigner::random()).collect();
    let node: alloy::providers::RootProvider =
        alloy::providers::RootProvider::new_http(anvil.url().parse()?);
    for sender in &senders {
        let ether = U256::from(10).pow(U256::from(18));
        let _: serde_json::Value = alloy::providers::Provider::raw_request(
            &node,
            "anvil_setBalance".into(),
            (sender.address(), ether),
        )
        .await?;
    }
    // Interleaved, as concurrent wallets would queue them.
    let mut signed = Vec::new();
    for nonce in 0..per_sender as u64 {
        for sender in &senders {
            signed.push(transfer(sender, nonce)?);
        }
    }
    let client = mpc_session::connect(nats_url).await?;
    let js = jetstream::new(client.clone());
    let mut results = client
        .subscribe(format!("{RESULT_SUBJECT_PREFIX}.>"))
        .await?;
    let start = Instant::now();
    let mut queued_at = std::collections::HashMap::new();
    for (raw, hash) in &signed {
        queue_raw_tx(&js, raw).await?;
        queued_at.insert(*hash, start.elapsed());
    }
    let queued = start.elapsed();
    let mut waiting: HashSet<B256> = signed.iter().map(|(_, hash)| *hash).collect();
    let mut latencies = Vec::new();
    while !waiting.is_empty() {
        let message = tokio::time::timeout(CONFIRMED_WITHIN, results.next())
            .await
            .with_context(|| format!("{} transactions unconfirmed", waiting.len()))?
            .context("result subscription closed")?;
        let result: BroadcastResult = serde_json::from_slice(&message.payload)?;
        if !result.status.is_final() || !waiting.remove(&result.tx_hash) {
            continue;
        }
        ensure!(result.status == BroadcastStatus::Success, "{result:?}");
        latencies.push(start.elapsed() - queued_at[&result.tx_hash]);
    }
    let confirmed = start.elapsed();
    for sender in &senders {
        ensure!(rpc.nonce(sender.address()).await? == per_sender as u64);
    }
    Ok(BroadcasterThroughput {
        senders: SENDERS,
        transactions: signed.len(),
        queued_ms: milliseconds(queued),
        confirmed_ms: milliseconds(confirmed),
        tx_per_s: round2(signed.len() as f64 / confirmed.as_secs_f64()),
        latency: Summary::of(latencies),
    })
}

fn transfer(sender: &PrivateKeySigner, nonce: u64) -> anyhow::Result<(Vec<u8>, B256)> {
    let tx = TxRequest {
        chain_id: SEPOLIA_CHAIN_ID,
        nonce,
        to: TxKind::Call(RECIPIENT.parse()?),
        value: U256::from(1),
        gas_limit: 21_000,
        fees: Fees::Eip1559 {
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
        },
        data: Default::default(),
        access_list: None,
        authorization_list: None,
    };
    let signature = sender.sign_hash_sync(&B256::from(tx.signing_hash()))?;
    let signed = tx.assemble(&signature)?;
    Ok((signed.raw_tx.to_vec(), signed.tx_hash))
}
