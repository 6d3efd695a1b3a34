//! mpc-broadcaster: takes signed raw transactions from the JetStream work queue
//! `MPC_BROADCAST`, sends each when the node could mine it (one lane per
//! sender, in nonce order), tracks every sent one's confirmations at once,
//! and records each status change in the KV bucket `MPC_BROADCAST_RESULTS`
//! and on `mpc.v1.broadcast.result.<tx_hash>`. Several broadcasters may
//! share the queue.

mod job;
mod lanes;
mod queue;
mod recorder;
mod retry;
mod worker;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use clap::Parser;
use futures::StreamExt;
use mpc_api::broadcast;
use mpc_evm::raw::raw_tx_hash;
use mpc_evm::{decode_raw_tx, EvmRpc, RpcError};

use crate::job::{Job, Worker};
use crate::lanes::Lanes;
use crate::queue::QueueSettings;
use crate::recorder::Recorder;
use crate::retry::Backoff;
use crate::worker::{failed, Tracker};

/// Messages asked of the server per pull request.
const PULL_BATCH: usize = 100;
/// How long one pull request waits at the server for messages.
const PULL_EXPIRES: Duration = Duration::from_secs(10);

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
    /// Servers that keep a copy of the queue and the results bucket (3 on a
    /// 3-node cluster); an existing stream or bucket is brought to this.
    #[arg(long, env = "MPC_JETSTREAM_REPLICAS", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=5))]
    replicas: u64,
    /// How long a transaction's status is kept after its last change, in hours.
    #[arg(long, env = "MPC_BROADCAST_RESULTS_MAX_AGE_HOURS", default_value_t = 168,
          value_parser = clap::value_parser!(u64).range(1..))]
    results_max_age_hours: u64,
    /// Seconds a message may go without an ack (in-progress acks come every
    /// third of it) before it is redelivered to another broadcaster.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..))]
    ack_wait_secs: u64,
    /// Messages this broadcaster's consumer may have unacked at once, across all broadcasters.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight: u64,
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
    let settings = QueueSettings {
        replicas: usize::try_from(config.replicas)?,
        ack_wait: Duration::from_secs(config.ack_wait_secs),
        max_in_flight: usize::try_from(config.max_in_flight)?,
    };
    let opened = async {
        let consumer = queue::consumer(&js, &settings, &violations).await?;
        let max_age = Duration::from_secs(config.results_max_age_hours * 3600);
        let store = broadcast::ensure_results(&js, settings.replicas, max_age).await?;
        anyhow::Ok((consumer, store))
    };
    let (consumer, store) = match opened.await {
        Ok(opened) => opened,
        // Another role's credentials: the JetStream API calls were refused,
        // which says more than the timeout they end in.
        Err(error) => return Err(violations.reported().map_or(error, Into::into)),
    };
    let worker = Arc::new(Worker {
        tracker: Tracker {
            rpc,
            confirmations: config.confirmations,
            poll_interval: Duration::from_millis(config.poll_interval_ms),
        },
        recorder: Recorder { nats, store },
        progress_every: settings.ack_wait / 3,
    });
    tracing::info!(
        chain_id = config.chain_id,
        confirmations = config.confirmations,
        replicas = config.replicas,
        "ready"
    );
    // Short-lived pulls with heartbeats: a pull lost with a cluster node is
    // noticed and sent again within seconds.
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(PULL_BATCH)
        .expires(PULL_EXPIRES)
        .heartbeat(PULL_EXPIRES / 3)
        .messages()
        .await
        .context("pull from the queue")?;
    let mut lanes = Lanes::new(worker.clone());
    loop {
        tokio::select! {
            next = messages.next() => match next {
                Some(Ok(message)) => match decode_raw_tx(&message.payload) {
                    Ok(tx) => lanes.dispatch(Job { message, tx }),
                    Err(error) => {
                        let result = failed(raw_tx_hash(&message.payload), error.to_string());
                        let worker = worker.clone();
                        tokio::spawn(async move { worker.finish(&message, &result).await });
                    }
                },
                Some(Err(error)) => tracing::warn!(%error, "queue read failed; continuing"),
                None => anyhow::bail!("the queue subscription ended"),
            },
            _ = tokio::signal::ctrl_c() => {
                // Unacked messages go to another broadcaster after the ack wait.
                tracing::info!("stopping");
                return Ok(());
            }
        }
    }
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
