//! One queued transaction's life in the broadcaster: admission (in its
//! sender's lane), then confirmation (concurrently with every other), and
//! what JetStream is told at each step.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use mpc_api::broadcast::{BroadcastResult, BroadcastStatus};
use mpc_evm::RawTx;
use tracing::Instrument;

use crate::recorder::Recorder;
use crate::retry::retry_delay;
use crate::worker::{Admission, Tracker};

pub struct Job {
    pub message: Message,
    pub tx: RawTx,
}

pub struct Worker {
    pub tracker: Tracker,
    pub recorder: Recorder,
    /// In-progress acks keep a message this broadcaster works on from being
    /// redelivered to another.
    pub progress_every: Duration,
}

impl Worker {
    /// Sends the transaction if it can be mined now; returns as soon as it
    /// is sent or handed back to the queue, so the lane moves on.
    pub async fn admit(self: &Arc<Self>, job: Job) {
        let span = tracing::info_span!("tx", tx_hash = %job.tx.tx_hash, from = %job.tx.from, nonce = job.tx.nonce);
        async {
            let previous = self.recorder.stored(&job.tx.tx_hash).await;
            if let Some(done) = previous.as_ref().filter(|r| r.status.is_final()) {
                // Redelivered after its result was recorded, e.g. the ack was lost.
                tracing::info!(status = done.status.as_str(), "already final");
                settle(&job.message, AckKind::Ack).await;
                return;
            }
            match self.tracker.admit(&job.tx).await {
                Admission::Sent => {
                    let pending = BroadcastResult::new(job.tx.tx_hash, BroadcastStatus::Pending);
                    if self.record_change(previous.as_ref(), &pending).await {
                        tokio::spawn(self.clone().confirm(job).in_current_span());
                    }
                }
                Admission::NotYet(result) => {
                    self.record_change(previous.as_ref(), &result).await;
                    let delivery = job.message.info().map_or(1, |info| info.delivered);
                    let delay = retry_delay(delivery);
                    tracing::info!(
                        status = result.status.as_str(),
                        ?delay,
                        "not mineable yet; back to the queue"
                    );
                    ack(&job.message, AckKind::Nak(Some(delay))).await;
                }
                Admission::Failed(result) => self.finish(&job.message, &result).await,
            }
        }
        .instrument(span)
        .await
    }

    /// Records `result` unless it is what is stored already; `false` when
    /// it could not be recorded (the message is then left for redelivery).
    async fn record_change(
        &self,
        previous: Option<&BroadcastResult>,
        result: &BroadcastResult,
    ) -> bool {
        if previous == Some(result) {
            return true;
        }
        match self.recorder.record(result).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "status not recorded; leaving the message for redelivery");
                false
            }
        }
    }

    async fn confirm(self: Arc<Self>, job: Job) {
        let result = with_progress(
            &job.message,
            self.progress_every,
            self.tracker.confirm(&job.tx),
        )
        .await;
        self.finish(&job.message, &result).await;
    }

    /// Records a final result, then acks; a failed transaction would fail
    /// again, so its message is terminated rather than redelivered.
    pub async fn finish(&self, message: &Message, result: &BroadcastResult) {
        if !self.record_change(None, result).await {
            return;
        }
        let kind = match result.status {
            BroadcastStatus::Failed => AckKind::Term,
            _ => AckKind::Ack,
        };
        settle(message, kind).await;
    }
}

async fn ack(message: &Message, kind: AckKind) {
    if let Err(error) = message.ack_with(kind).await {
        tracing::warn!(%error, "ack failed; the message will be redelivered");
    }
}

/// The last ack of a message, confirmed by the server: after it no other
/// broadcaster gets the message.
async fn settle(message: &Message, kind: AckKind) {
    if let Err(error) = message.double_ack_with(kind).await {
        tracing::warn!(%error, "ack failed; the message will be redelivered");
    }
}

/// Runs `work`, telling JetStream every `every` that the message is still
/// being worked on.
async fn with_progress<F: Future>(message: &Message, every: Duration, work: F) -> F::Output {
    tokio::pin!(work);
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            output = &mut work => return output,
            _ = progress.tick() => {
                if let Err(error) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(%error, "progress ack failed");
                }
            }
        }
    }
}
