//! The co-signer fleet on JetStream (`--store jetstream`): every replica
//! reads and writes the same KV buckets, so any replica serves any wallet.
//!
//! - `KV_MPC_COSIGNER_WALLETS`: one [`record::WalletRecord`] per wallet (its
//!   sealed current share, a staged one during a refresh, the unconfirmed
//!   keygen mark and the misbehaviour lock), changed only by compare-and-set
//!   on its revision: keygen creates, everything else updates what it read.
//! - `KV_MPC_COSIGNER_LEASES`: a lease per wallet, created for a session,
//!   renewed while it runs, deleted at its end; the bucket's age limit is the
//!   TTL, so a replica that dies frees its wallets within it.
//! - `KV_MPC_COSIGNER_SESSIONS`: every accepted session id, create-only, kept
//!   for twice the freshness window: a replay is refused by any replica.
//! - `KV_MPC_COSIGNER_LEDGER`: each wallet's spend of the last day, for the
//!   policy's limits ([`crate::policy::shared`]).
//! - `KV_MPC_COSIGNER_ENROLLMENT`: the allowlist and the enrollment tokens
//!   ([`enrollment`]).
//!
//! Reads that decide anything go to the stream leader (a direct get may be
//! answered by a follower that is behind); the lease and compare-and-set are
//! the source of truth.

pub mod enrollment;
pub mod lease;
pub mod memory;
pub mod record;
pub mod records;

use std::time::Duration;

use async_nats::jetstream::{self, kv};

/// Bucket names (their streams are `KV_<name>`).
pub const WALLETS_BUCKET: &str = "MPC_COSIGNER_WALLETS";
pub const LEASES_BUCKET: &str = "MPC_COSIGNER_LEASES";
pub const SESSIONS_BUCKET: &str = "MPC_COSIGNER_SESSIONS";
pub const LEDGER_BUCKET: &str = "MPC_COSIGNER_LEDGER";
pub const ENROLLMENT_BUCKET: &str = "MPC_COSIGNER_ENROLLMENT";
/// A wallet's spend record outlives its last signature by more than the
/// day it counts for; then it goes.
const LEDGER_MAX_AGE: Duration = Duration::from_secs(25 * 60 * 60);

/// How the fleet's buckets are made when the first replica creates them;
/// later replicas use them as they are.
#[derive(Debug, Clone, Copy)]
pub struct FleetConfig {
    /// JetStream replicas of each bucket (3 on a 3-node cluster).
    pub replicas: usize,
    /// How long a wallet stays leased after its replica stopped renewing.
    pub lease_ttl: Duration,
    /// The freshness window: session ids are kept for twice that.
    pub freshness_window: Duration,
}

/// Why the fleet's storage failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("JetStream ({action}): {reason}")]
    JetStream {
        action: &'static str,
        reason: String,
    },
    #[error("another replica changed wallet {wallet_id} meanwhile")]
    Conflict { wallet_id: String },
    #[error("the wallet record of {wallet_id} is unreadable: {reason}")]
    CorruptRecord { wallet_id: String, reason: String },
    #[error("the fleet already has a wallet {wallet_id}")]
    WalletExists { wallet_id: String },
}

impl FleetError {
    pub(crate) fn jetstream(action: &'static str) -> impl FnOnce(String) -> FleetError {
        move |reason| FleetError::JetStream { action, reason }
    }
}

/// The three buckets, opened (or created) on one connection.
#[derive(Clone)]
pub struct Fleet {
    pub js: jetstream::Context,
    pub wallets: kv::Store,
    pub leases: kv::Store,
    pub sessions: kv::Store,
    pub ledger: kv::Store,
    pub enrollment: kv::Store,
    /// The leases bucket's age limit, whatever this replica was started with.
    pub lease_ttl: Duration,
}

/// How long a starting replica waits for JetStream: a cluster elects its
/// meta leader a moment after its nodes listen.
const JETSTREAM_WAIT: Duration = Duration::from_secs(30);

impl Fleet {
    pub async fn open(nats: async_nats::Client, config: FleetConfig) -> Result<Fleet, FleetError> {
        let js = jetstream::new(nats);
        let bucket = |name: &str, max_age: Duration| kv::Config {
            bucket: name.to_owned(),
            history: 1,
            max_age,
            storage: jetstream::stream::StorageType::File,
            num_replicas: config.replicas,
            ..Default::default()
        };
        let wallets = open_bucket(&js, bucket(WALLETS_BUCKET, Duration::ZERO)).await?;
        let leases = open_bucket(&js, bucket(LEASES_BUCKET, config.lease_ttl)).await?;
        let sessions =
            open_bucket(&js, bucket(SESSIONS_BUCKET, config.freshness_window * 2)).await?;
        let ledger = open_bucket(&js, bucket(LEDGER_BUCKET, LEDGER_MAX_AGE)).await?;
        let enrollment = open_bucket(&js, bucket(ENROLLMENT_BUCKET, Duration::ZERO)).await?;
        let lease_ttl = leases
            .status()
            .await
            .map_err(|e| FleetError::jetstream("read the leases bucket")(e.to_string()))?
            .max_age();
        if lease_ttl != config.lease_ttl {
            tracing::warn!(
                bucket_s = lease_ttl.as_secs(),
                requested_s = config.lease_ttl.as_secs(),
                "the leases bucket exists with another TTL; the bucket's applies"
            );
        }
        Ok(Fleet {
            js,
            wallets,
            leases,
            sessions,
            ledger,
            enrollment,
            lease_ttl,
        })
    }
}

/// The bucket, created if no replica made it yet (two starting together:
/// one creates, the other finds it).
async fn open_bucket(js: &jetstream::Context, config: kv::Config) -> Result<kv::Store, FleetError> {
    let deadline = tokio::time::Instant::now() + JETSTREAM_WAIT;
    loop {
        let attempt = match js.get_key_value(&config.bucket).await {
            Ok(store) => Ok(store),
            Err(_) => match js.create_key_value(config.clone()).await {
                Ok(store) => Ok(store),
                Err(error) => js
                    .get_key_value(&config.bucket)
                    .await
                    .map_err(|_| error.to_string()),
            },
        };
        match attempt {
            Ok(store) => return Ok(store),
            Err(reason) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(bucket = %config.bucket, %reason, "JetStream not ready yet, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(reason) => return Err(FleetError::jetstream("open a bucket")(reason)),
        }
    }
}

/// This process in the leases it holds: `<host>-<pid>`.
pub fn replica_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "cosigner".to_owned());
    format!("{host}-{}", std::process::id())
}

/// The last value of `key` as the stream leader has it, with its revision;
/// `None` when never written or deleted.
pub(crate) async fn leader_entry(
    js: &jetstream::Context,
    bucket: &str,
    key: &str,
) -> Result<Option<(bytes::Bytes, u64)>, FleetError> {
    let stream = js
        .get_stream_no_info(format!("KV_{bucket}"))
        .await
        .map_err(|e| FleetError::jetstream("find a bucket")(e.to_string()))?;
    match stream
        .get_last_raw_message_by_subject(&format!("$KV.{bucket}.{key}"))
        .await
    {
        Ok(message) => {
            let deleted = message
                .headers
                .get("KV-Operation")
                .is_some_and(|op| matches!(op.as_str(), "DEL" | "PURGE"));
            Ok((!deleted).then_some((message.payload, message.sequence)))
        }
        Err(e) if e.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound => {
            Ok(None)
        }
        Err(e) => Err(FleetError::jetstream("read from the leader")(e.to_string())),
    }
}
