//! The work queue as this broadcaster consumes it: one durable pull
//! consumer shared by every broadcaster, many messages in flight at once.

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, consumer};
use mpc_api::broadcast;

pub struct QueueSettings {
    pub replicas: usize,
    /// Unacked this long, a message goes to another broadcaster.
    pub ack_wait: Duration,
    pub max_in_flight: usize,
}

/// A crashed broadcaster's messages come back after `ack_wait`, then after
/// growing delays if they keep coming back unacked.
fn backoff(ack_wait: Duration) -> Vec<Duration> {
    [1, 2, 4, 8].iter().map(|&k| ack_wait * k).collect()
}

/// The work queue (at `replicas`) and the durable consumer on it, created
/// or updated to these settings.
pub async fn consumer(
    js: &jetstream::Context,
    settings: &QueueSettings,
) -> anyhow::Result<consumer::PullConsumer> {
    let stream = broadcast::ensure_stream_replicas(js, settings.replicas).await?;
    stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(broadcast::CONSUMER_NAME.to_owned()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: settings.ack_wait,
            backoff: backoff(settings.ack_wait),
            max_deliver: -1,
            max_ack_pending: i64::try_from(settings.max_in_flight).unwrap_or(i64::MAX),
            ..Default::default()
        })
        .await
        .context("create the durable consumer `broadcaster`")
}
