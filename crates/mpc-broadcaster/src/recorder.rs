//! Where statuses go: the results bucket (asked again, it answers at once)
//! and the result subject (a waiting client hears every change).

use async_nats::jetstream::kv;
use mpc_api::broadcast::{result_key, result_subject, store_result, BroadcastResult};
use mpc_evm::B256;

pub struct Recorder {
    pub nats: async_nats::Client,
    pub store: kv::Store,
}

impl Recorder {
    /// The stored status; `None` also when the bucket cannot be read, since
    /// the node is asked anyway and a duplicate send is harmless.
    pub async fn stored(&self, tx_hash: &B256) -> Option<BroadcastResult> {
        match self.store.get(result_key(tx_hash)).await {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .inspect_err(|error| tracing::warn!(%error, %tx_hash, "unreadable stored status"))
                .ok(),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, %tx_hash, "results bucket unreadable");
                None
            }
        }
    }

    /// Stores, then publishes: a client that subscribed, queued and found
    /// nothing in the bucket is sure to hear the change.
    pub async fn record(&self, result: &BroadcastResult) -> anyhow::Result<()> {
        store_result(&self.store, result).await?;
        self.nats
            .publish(
                result_subject(&result.tx_hash),
                serde_json::to_vec(result)?.into(),
            )
            .await?;
        tracing::info!(tx_hash = %result.tx_hash, status = result.status.as_str(), error = result.error, "status recorded");
        Ok(())
    }
}
