//! The broadcast queue contract shared by `mpc broadcast` and `mpc-broadcaster`:
//! signed raw transactions go into a JetStream work queue deduplicated by tx
//! hash; the broadcaster records each transaction's status in a KV bucket
//! and publishes every change of it (see `results.rs`).

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use mpc_evm::B256;

use mpc_evm::{decode_raw_tx, RawTx, RawTxError};

mod results;

pub use results::{
    ensure_results, result_key, store_result, stored_result, BroadcastResult, BroadcastStatus,
    FeeGap, NonceGap, ReceiptInfo, ResultSubscription, DEFAULT_RESULTS_MAX_AGE, RESULTS_BUCKET,
};

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

/// File-backed work queue: each transaction is kept until a broadcaster
/// acks it, on `replicas` servers of a cluster.
pub fn stream_config(replicas: usize) -> stream::Config {
    stream::Config {
        name: STREAM_NAME.to_owned(),
        subjects: vec![SUBMIT_SUBJECT.to_owned()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::WorkQueue,
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: replicas,
        ..Default::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    #[error(transparent)]
    RawTx(#[from] RawTxError),
    #[error("broadcast queue ({what}): {reason}")]
    Nats { what: &'static str, reason: String },
    #[error("no broadcast result for {tx_hash} within {waited:?}{}", results::timeout_hint(.last.as_deref()))]
    Timeout {
        tx_hash: B256,
        waited: Duration,
        /// The last interim status seen, if any.
        last: Option<Box<BroadcastResult>>,
    },
    #[error("unreadable broadcast result: {0}")]
    BadResult(#[from] serde_json::Error),
}

fn nats_error(what: &'static str) -> impl FnOnce(String) -> BroadcastError {
    move |reason| BroadcastError::Nats { what, reason }
}

/// Creates the stream if it does not exist yet (either side may come up
/// first); a client creates it with one replica.
pub async fn ensure_stream(js: &jetstream::Context) -> Result<stream::Stream, BroadcastError> {
    js.get_or_create_stream(stream_config(1))
        .await
        .map_err(|e| nats_error("create stream")(e.to_string()))
}

/// The broadcaster's side: creates the stream or brings an existing one
/// (maybe created by a client) to `replicas`.
pub async fn ensure_stream_replicas(
    js: &jetstream::Context,
    replicas: usize,
) -> Result<stream::Stream, BroadcastError> {
    js.create_or_update_stream(stream_config(replicas))
        .await
        .map_err(|e| nats_error("create or update stream")(e.to_string()))?;
    ensure_stream(js).await
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
    // The message id makes a second publish of the same transaction a
    // duplicate, so an ack lost while a cluster elects the stream's leader
    // is simply asked for again.
    let mut attempt = 1;
    loop {
        let published = async {
            js.publish_with_headers(SUBMIT_SUBJECT, headers.clone(), raw.to_vec().into())
                .await
                .map_err(|e| nats_error("publish")(e.to_string()))?
                .await
                .map_err(|e| nats_error("publish ack")(e.to_string()))
        };
        match published.await {
            Ok(ack) => {
                return Ok(Queued {
                    tx_hash,
                    // A retry may find its own earlier copy: not a duplicate
                    // the caller queued.
                    duplicate: ack.duplicate && attempt == 1,
                });
            }
            Err(error) if attempt < PUBLISH_ATTEMPTS => {
                tracing::warn!(%error, attempt, "queueing not acknowledged; publishing again");
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// How often a transaction is published before queueing is reported failed.
const PUBLISH_ATTEMPTS: u32 = 4;

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
