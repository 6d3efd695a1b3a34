//! mpc-broadcaster: takes signed raw transactions from the JetStream work queue
//! `MPC_BROADCAST`, sends them to the EVM node, waits for confirmations and
//! publishes one result per transaction on `mpc.v1.broadcast.result.<tx_hash>`.

mod retry;
mod worker;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, consumer, AckKind};
use clap::Parser;
use futures::StreamExt;
use mpc_api::broadcast::{self, result_subject, BroadcastResult, BroadcastStatus};
use mpc_evm::{EvmRpc, RpcError};

use crate::retry::Backoff;
use crate::worker::Tracker;

/// JetStream redelivers a message unacked for this long; progress acks keep a
/// long wait for confirmations from triggering that.
const ACK_WAIT: Duration = Duration::from_secs(60);
const PROGRESS_EVERY: Duration = Duration::from_secs(20);

#[derive(Debug, Parser)]
#[command(version, about)]
struct Config {
    /// NATS URL; may carry the `broadcaster` user's credentials (nats://user:pass@host:port).
    #[arg(
        long,
        env = "MPC_NATS_URL",
        hide_env_values = true,
        default_value = "nats://127.0.0.1:4222"
    )]
    nats_url: String,
    /// EVM JSON-RPC URL.
    #[arg(long, env = "MPC_RPC_URL", hide_env_values = true)]
    rpc_url: String,
    /// Chain id the node must report and transactions must be signed for.
    #[arg(long, env = "MPC_CHAIN_ID", default_value_t = 11155111)]
    chain_id: u64,
    /// Blocks a transaction must be buried under (1 = mined) before its result is final.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    confirmations: u64,
    /// How often to poll the node for receipts and new blocks, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_interval_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    mpc_logging::init("info");
    match run(Config::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "broadcaster stopped");
            eprintln!("mpc-broadcaster: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let rpc = connect_rpc(&config).await?;
    let (nats, violations) = connect_nats(&config.nats_url).await;
    let js = jetstream::new(nats.clone());
    let consumer = match queue_consumer(&js).await {
        Ok(consumer) => consumer,
        // Another role's credentials: the JetStream API calls were refused,
        // which says more than the timeout they end in.
        Err(error) => return Err(violations.reported().map_or(error, Into::into)),
    };
    let tracker = Tracker {
        rpc,
        confirmations: config.confirmations,
        poll_interval: Duration::from_millis(config.poll_interval_ms),
    };
    tracing::info!(
        chain_id = config.chain_id,
        confirmations = config.confirmations,
        "ready"
    );
    let mut messages = consumer.messages().await.context("pull from the queue")?;
    loop {
        tokio::select! {
            next = messages.next() => match next {
                Some(Ok(message)) => handle(&tracker, &nats, message).await,
                Some(Err(error)) => tracing::warn!(%error, "queue read failed; continuing"),
                None => anyhow::bail!("the queue subscription ended"),
            },
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("stopping");
                return Ok(());
            }
        }
    }
}

/// The work queue and this worker's durable consumer on it.
async fn queue_consumer(js: &jetstream::Context) -> anyhow::Result<consumer::PullConsumer> {
    let stream = broadcast::ensure_stream(js).await?;
    stream
        .get_or_create_consumer(
            broadcast::CONSUMER_NAME,
            consumer::pull::Config {
                durable_name: Some(broadcast::CONSUMER_NAME.to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_deliver: -1,
                ..Default::default()
            },
        )
        .await
        .context("create the durable consumer `broadcaster`")
}

/// Waits for the node (it may start after us); a wrong chain is fatal.
async fn connect_rpc(config: &Config) -> anyhow::Result<EvmRpc> {
    let mut backoff = Backoff::new();
    loop {
        match EvmRpc::connect(&config.rpc_url, config.chain_id).await {
            Ok(rpc) => return Ok(rpc),
            Err(error @ RpcError::Unreachable { .. }) => {
                tracing::warn!(%error, "EVM node not reachable yet, retrying");
                backoff.wait().await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Waits for the broker; the URL is never logged since it may hold a password.
async fn connect_nats(url: &str) -> (async_nats::Client, mpc_session::PermissionViolations) {
    let mut backoff = Backoff::new();
    loop {
        match mpc_session::connect_watching(url).await {
            Ok(connected) => return connected,
            Err(error) => {
                tracing::warn!(%error, "NATS broker not reachable yet, retrying");
                backoff.wait().await;
            }
        }
    }
}

/// Processes one message, keeping it alive with progress acks; the message is
/// acked only after its result is published, so a crash means a redelivery.
async fn handle(tracker: &Tracker, nats: &async_nats::Client, message: jetstream::Message) {
    let work = tracker.process(&message.payload);
    tokio::pin!(work);
    let mut progress =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = progress.tick() => {
                if let Err(error) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(%error, "progress ack failed");
                }
            }
        }
    };
    if let Err(error) = publish(nats, &result).await {
        tracing::warn!(%error, tx_hash = %result.tx_hash, "result not published; leaving the message for redelivery");
        return;
    }
    // A failed transaction would fail again: terminate instead of redelivering.
    let ack = match result.status {
        BroadcastStatus::Failed => AckKind::Term,
        BroadcastStatus::Success | BroadcastStatus::Reverted => AckKind::Ack,
    };
    if let Err(error) = message.double_ack_with(ack).await {
        tracing::warn!(%error, tx_hash = %result.tx_hash, "ack failed; the message will be redelivered");
    }
}

async fn publish(nats: &async_nats::Client, result: &BroadcastResult) -> anyhow::Result<()> {
    let payload = serde_json::to_vec(result)?;
    nats.publish(result_subject(&result.tx_hash), payload.into())
        .await?;
    nats.flush().await?;
    tracing::info!(tx_hash = %result.tx_hash, status = ?result.status, error = result.error, "result published");
    Ok(())
}
