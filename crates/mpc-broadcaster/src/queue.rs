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
/// or updated to these settings. A cluster still starting, or still placing
/// the replicas of a stream just scaled up, refuses for a moment
/// (`insufficient resources`): asked again until [`LEADER_WAIT`] has passed.
/// A broker that refused the role's JetStream calls (`violations`) is not
/// asked again: that is a deployment error, not a cluster starting.
pub async fn consumer(
    js: &jetstream::Context,
    settings: &QueueSettings,
    violations: &mpc_session::PermissionViolations,
) -> anyhow::Result<consumer::PullConsumer> {
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    loop {
        match try_consumer(js, settings).await {
            Err(error)
                if tokio::time::Instant::now() < deadline && violations.reported().is_none() =>
            {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "the queue is not ready yet; retrying"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            result => return result,
        }
    }
}

async fn try_consumer(
    js: &jetstream::Context,
    settings: &QueueSettings,
) -> anyhow::Result<consumer::PullConsumer> {
    let stream = broadcast::ensure_stream_replicas(js, settings.replicas).await?;
    let mut consumer = stream
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
        .context("create the durable consumer `broadcaster`")?;
    wait_for_leader(&mut consumer).await?;
    Ok(consumer)
}

/// How long a new replicated consumer may take to elect its leader.
const LEADER_WAIT: Duration = Duration::from_secs(30);

/// Until a replicated consumer has a leader: a pull sent before that is
/// lost, and would wait out its expiry before it is sent again.
async fn wait_for_leader(consumer: &mut consumer::PullConsumer) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    loop {
        let info = consumer.info().await.context("read the consumer")?;
        match &info.cluster {
            Some(cluster) if cluster.leader.is_none() => {}
            _ => return Ok(()),
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the consumer `broadcaster` has no leader after {LEADER_WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
