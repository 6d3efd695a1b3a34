//! A transaction's status as the broadcaster sees it: kept in the KV bucket
//! [`RESULTS_BUCKET`] under the tx hash (so asking again answers at once) and
//! published on [`result_subject`] at every change (for a waiting client).

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use futures::StreamExt;
use mpc_evm::{Address, B256};
use serde::{Deserialize, Serialize};

use super::{nats_error, result_subject, BroadcastError};

/// The KV bucket of statuses, keyed by 0x-hex tx hash.
pub const RESULTS_BUCKET: &str = "MPC_BROADCAST_RESULTS";
/// How long a status is kept after its last change: a week, well past the
/// queue's 24 h de-duplication window, so any re-queue still finds it.
pub const DEFAULT_RESULTS_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BroadcastStatus {
    /// In the queue, not yet picked up by a broadcaster (never stored).
    Queued,
    /// Sent to the node, waiting to be mined and confirmed.
    Pending,
    /// Its nonce is ahead of the account's next one (see `nonce_gap`);
    /// retried until the transactions before it are mined.
    WaitingForNonce,
    /// Its fee cap is below the base fee (see `fee_gap`); retried.
    Underpriced,
    /// Mined with receipt status 1 and the requested confirmations.
    Success,
    /// Mined with receipt status 0: the transaction ran and reverted.
    Reverted,
    /// Not sent: the transaction can never be mined as it is (see `error`).
    Failed,
}

impl BroadcastStatus {
    /// The broadcaster's last word: nothing changes after it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Reverted | Self::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Pending => "pending",
            Self::WaitingForNonce => "waiting_for_nonce",
            Self::Underpriced => "underpriced",
            Self::Success => "success",
            Self::Reverted => "reverted",
            Self::Failed => "failed",
        }
    }
}

/// Why a transaction waits for its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceGap {
    /// The transaction's nonce.
    pub nonce: u64,
    /// The account's next nonce, counting pending transactions.
    pub next_nonce: u64,
}

/// Why a transaction is underpriced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeGap {
    /// The transaction's fee cap (its gas price, if legacy), in wei.
    pub max_fee_per_gas: u128,
    /// The latest block's base fee, in wei.
    pub base_fee_per_gas: u128,
}

/// The receipt of a mined transaction, beyond its block number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptInfo {
    pub block_hash: B256,
    pub from: Address,
    pub gas_used: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_address: Option<Address>,
}

/// The broadcaster's word on one transaction, interim or final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastResult {
    pub tx_hash: B256,
    pub status: BroadcastStatus,
    pub block_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_gap: Option<NonceGap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_gap: Option<FeeGap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptInfo>,
}

impl BroadcastResult {
    /// A status with no details.
    pub fn new(tx_hash: B256, status: BroadcastStatus) -> Self {
        BroadcastResult {
            tx_hash,
            status,
            block_number: None,
            error: None,
            nonce_gap: None,
            fee_gap: None,
            receipt: None,
        }
    }
}

impl fmt::Display for BroadcastResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.status.as_str())?;
        if let Some(gap) = self.nonce_gap {
            write!(
                f,
                " (nonce {}, the account's next nonce is {})",
                gap.nonce, gap.next_nonce
            )?;
        }
        if let Some(gap) = self.fee_gap {
            write!(
                f,
                " (max fee {} wei per gas, base fee {} wei)",
                gap.max_fee_per_gas, gap.base_fee_per_gas
            )?;
        }
        if let Some(block) = self.block_number {
            write!(f, " in block {block}")?;
        }
        if let Some(error) = &self.error {
            write!(f, ": {error}")?;
        }
        Ok(())
    }
}

/// The end of a timeout message: what the transaction was last seen doing.
pub(super) fn timeout_hint(last: Option<&BroadcastResult>) -> String {
    match last {
        Some(last) => format!(
            "; last status: {last}. The broadcaster keeps retrying it (mpc broadcast --status {})",
            last.tx_hash
        ),
        None => "; is mpc-broadcaster running? The transaction stays queued".to_owned(),
    }
}

/// The bucket key of a transaction: its 0x-hex hash.
pub fn result_key(tx_hash: &B256) -> String {
    tx_hash.to_string()
}

/// The broadcaster's side: creates the bucket or brings it to `replicas`
/// and `max_age`.
pub async fn ensure_results(
    js: &jetstream::Context,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store, BroadcastError> {
    js.create_or_update_key_value(kv::Config {
        bucket: RESULTS_BUCKET.to_owned(),
        description: "mpc-broadcaster: each transaction's status, by tx hash".to_owned(),
        history: 1,
        max_age,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .map_err(|e| nats_error("create the results bucket")(e.to_string()))
}

/// The stored status of `tx_hash`; `None` when no broadcaster has seen it
/// (or no broadcaster ever ran). Read-only: the client's user may not write.
pub async fn stored_result(
    js: &jetstream::Context,
    tx_hash: &B256,
) -> Result<Option<BroadcastResult>, BroadcastError> {
    let stream = match js.get_stream(format!("KV_{RESULTS_BUCKET}")).await {
        Ok(stream) => stream,
        // No bucket yet: no broadcaster has ever recorded anything.
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref js_error)
            if js_error.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(nats_error("open the results bucket")(e.to_string())),
    };
    let subject = format!("$KV.{RESULTS_BUCKET}.{}", result_key(tx_hash));
    match stream.direct_get_last_for_subject(subject).await {
        Ok(message) => Ok(Some(serde_json::from_slice(&message.payload)?)),
        Err(e) if matches!(e.kind(), stream::DirectGetErrorKind::NotFound) => Ok(None),
        Err(e) => Err(nats_error("read the results bucket")(e.to_string())),
    }
}

/// Writes a status to the bucket; the broadcaster publishes it after.
pub async fn store_result(
    store: &kv::Store,
    result: &BroadcastResult,
) -> Result<(), BroadcastError> {
    store
        .put(
            result_key(&result.tx_hash),
            serde_json::to_vec(result)?.into(),
        )
        .await
        .map_err(|e| nats_error("write the results bucket")(e.to_string()))?;
    Ok(())
}

/// A subscription to one transaction's statuses; subscribe before queueing
/// so none can slip past.
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

    /// The next status published, interim or final.
    pub async fn next(&mut self, timeout: Duration) -> Result<BroadcastResult, BroadcastError> {
        let message = tokio::time::timeout(timeout, self.subscriber.next())
            .await
            .map_err(|_| BroadcastError::Timeout {
                tx_hash: self.tx_hash,
                waited: timeout,
                last: None,
            })?
            .ok_or_else(|| nats_error("result subscription")("closed by the broker".to_owned()))?;
        Ok(serde_json::from_slice(&message.payload)?)
    }

    /// Waits up to `timeout` in all for a final status; `last` is the
    /// interim one already known (from the bucket), if any.
    pub async fn until_final(
        &mut self,
        timeout: Duration,
        mut last: Option<BroadcastResult>,
    ) -> Result<BroadcastResult, BroadcastError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Ok(result) if result.status.is_final() => return Ok(result),
                Ok(interim) => last = Some(interim),
                Err(BroadcastError::Timeout { .. }) => {
                    return Err(BroadcastError::Timeout {
                        tx_hash: self.tx_hash,
                        waited: timeout,
                        last: last.map(Box::new),
                    })
                }
                Err(other) => return Err(other),
            }
        }
    }
}
