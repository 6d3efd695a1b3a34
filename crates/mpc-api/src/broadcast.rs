//! The broadcast queue contract shared by `mpc broadcast` and `mpc-broadcaster`:
//! signed raw transactions go into a JetStream work queue deduplicated by tx
//! hash; the broadcaster publishes one [`BroadcastResult`] per transaction.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use mpc_evm::B256;
use serde::{Deserialize, Serialize};

use mpc_evm::{decode_raw_tx, RawTx, RawTxError};

pub const STREAM_NAME: &str = "MPC_BROADCAST";
pub const SUBMIT_SUBJECT: &str = "mpc.v1.broadcast.submit";
pub const RESULT_SUBJECT_PREFIX: &str = "mpc.v1.broadcast.result";
/// The broadcaster's durable pull consumer.
pub const CONSUMER_NAME: &str = "broadcaster";
/// How long JetStream remembers a tx hash to drop a re-queued copy.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// `mpc.v1.broadcast.result.<0x-hex tx hash>`.
pub fn result_subject(tx_hash: &B256) -> String {
    format!("{RESULT_SUBJECT_PREFIX}.{tx_hash}")
}

/// File-backed work queue: each transaction is kept until the broadcaster acks it.
pub fn stream_config() -> stream::Config {
    stream::Config {
        name: STREAM_NAME.to_owned(),
        subjects: vec![SUBMIT_SUBJECT.to_owned()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::WorkQueue,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    #[error(transparent)]
    RawTx(#[from] RawTxError),
    #[error("broadcast queue ({what}): {reason}")]
    Nats { what: &'static str, reason: String },
    #[error("no broadcast result for {tx_hash} within {waited:?}; is mpc-broadcaster running? The transaction stays queued")]
    Timeout { tx_hash: B256, waited: Duration },
    #[error("unreadable broadcast result: {0}")]
    BadResult(#[from] serde_json::Error),
}

fn nats_error(what: &'static str) -> impl FnOnce(String) -> BroadcastError {
    move |reason| BroadcastError::Nats { what, reason }
}

/// Creates the stream if it does not exist yet (either side may come up first).
pub async fn ensure_stream(js: &jetstream::Context) -> Result<stream::Stream, BroadcastError> {
    js.get_or_create_stream(stream_config())
        .await
        .map_err(|e| nats_error("create stream")(e.to_string()))
}

/// A transaction accepted into the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub tx_hash: B256,
    /// The same transaction was already queued; it will be sent once.
    pub duplicate: bool,
}

/// Queues a signed raw transaction for the broadcaster, deduplicated by its
/// hash. Malformed bytes are refused here rather than queued.
pub async fn queue_raw_tx(js: &jetstream::Context, raw: &[u8]) -> Result<Queued, BroadcastError> {
    let tx_hash = decode_raw_tx(raw)?.tx_hash;
    ensure_stream(js).await?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        tx_hash.to_string().as_str(),
    );
    let ack = js
        .publish_with_headers(SUBMIT_SUBJECT, headers, raw.to_vec().into())
        .await
        .map_err(|e| nats_error("publish")(e.to_string()))?
        .await
        .map_err(|e| nats_error("publish ack")(e.to_string()))?;
    Ok(Queued {
        tx_hash,
        duplicate: ack.duplicate,
    })
}

/// A transaction still in the queue: not yet picked up, or picked up and
/// not finished (`in_flight`: the broadcaster may have sent it already).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Its sequence in the stream.
    pub sequence: u64,
    pub tx: RawTx,
    pub in_flight: bool,
}

/// Every transaction in the queue, oldest first.
pub async fn waiting(js: &jetstream::Context) -> Result<Vec<Waiting>, BroadcastError> {
    let stream = ensure_stream(js).await?;
    // Delivered to the broadcaster up to this sequence; what is still in the
    // work queue at or below it is being worked on.
    let delivered = match stream
        .get_consumer::<jetstream::consumer::pull::Config>(CONSUMER_NAME)
        .await
    {
        Ok(mut consumer) => {
            consumer
                .info()
                .await
                .map_err(|e| nats_error("consumer info")(e.to_string()))?
                .delivered
                .stream_sequence
        }
        // No broadcaster ever ran: nothing is in flight.
        Err(_) => 0,
    };
    let mut waiting = Vec::new();
    let mut next = 1;
    loop {
        let message = match stream
            .get_first_raw_message_by_subject(SUBMIT_SUBJECT, next)
            .await
        {
            Ok(message) => message,
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                return Ok(waiting)
            }
            Err(e) => return Err(nats_error("read the queue")(e.to_string())),
        };
        next = message.sequence + 1;
        // Only valid transactions are ever queued (see `queue_raw_tx`).
        if let Ok(tx) = decode_raw_tx(&message.payload) {
            waiting.push(Waiting {
                sequence: message.sequence,
                tx,
                in_flight: message.sequence <= delivered,
            });
        }
    }
}

/// Removes `tx_hash` from the queue so it is never (re)sent; `None` when it
/// is not there. A transaction already in flight may have reached the node.
pub async fn drop_waiting(
    js: &jetstream::Context,
    tx_hash: &B256,
) -> Result<Option<Waiting>, BroadcastError> {
    let Some(found) = waiting(js)
        .await?
        .into_iter()
        .find(|waiting| waiting.tx.tx_hash == *tx_hash)
    else {
        return Ok(None);
    };
    ensure_stream(js)
        .await?
        .delete_message(found.sequence)
        .await
        .map_err(|e| nats_error("drop from the queue")(e.to_string()))?;
    Ok(Some(found))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BroadcastStatus {
    /// Mined with receipt status 1 and the requested confirmations.
    Success,
    /// Mined with receipt status 0: the transaction ran and reverted.
    Reverted,
    /// Not sent: the transaction can never be mined as it is (see `error`).
    Failed,
}

/// The broadcaster's final word on one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastResult {
    pub tx_hash: B256,
    pub status: BroadcastStatus,
    pub block_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A subscription to one transaction's result; subscribe before queueing so
/// the result cannot slip past.
pub struct ResultSubscription {
    tx_hash: B256,
    subscriber: async_nats::Subscriber,
}

impl ResultSubscription {
    pub async fn new(client: &async_nats::Client, tx_hash: B256) -> Result<Self, BroadcastError> {
        let subscriber = client
            .subscribe(result_subject(&tx_hash))
            .await
            .map_err(|e| nats_error("subscribe to result")(e.to_string()))?;
        Ok(ResultSubscription {
            tx_hash,
            subscriber,
        })
    }

    pub async fn next(&mut self, timeout: Duration) -> Result<BroadcastResult, BroadcastError> {
        let message = tokio::time::timeout(timeout, self.subscriber.next())
            .await
            .map_err(|_| BroadcastError::Timeout {
                tx_hash: self.tx_hash,
                waited: timeout,
            })?
            .ok_or_else(|| nats_error("result subscription")("closed by the broker".to_owned()))?;
        Ok(serde_json::from_slice(&message.payload)?)
    }
}
