//! The wallets bucket: read from the stream leader, changed only by
//! create-only writes and compare-and-set on the revision that was read.

use async_nats::jetstream::kv;
use futures::StreamExt;

use super::record::WalletRecord;
use super::{leader_entry, Fleet, FleetError, WALLETS_BUCKET};

/// How often a read-modify-write retries after losing a race to another replica.
const CAS_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct Records {
    fleet: std::sync::Arc<Fleet>,
}

/// A record and the revision it was read at.
pub type Revisioned = (WalletRecord, u64);

impl Records {
    pub fn new(fleet: Fleet) -> Records {
        Records {
            fleet: std::sync::Arc::new(fleet),
        }
    }

    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    pub fn bucket(&self) -> &kv::Store {
        &self.fleet.wallets
    }

    /// The wallet's record as the leader has it; `None` for no such wallet.
    pub async fn read(&self, wallet_id: &str) -> Result<Option<Revisioned>, FleetError> {
        let Some((bytes, revision)) =
            leader_entry(&self.fleet.js, WALLETS_BUCKET, wallet_id).await?
        else {
            return Ok(None);
        };
        let record = WalletRecord::decode(&bytes).map_err(|e| FleetError::CorruptRecord {
            wallet_id: wallet_id.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Some((record, revision)))
    }

    /// Writes a new wallet; a wallet id already taken (by any replica) is
    /// refused with `AlreadyExists`.
    pub async fn create(&self, wallet_id: &str, record: &WalletRecord) -> Result<u64, FleetError> {
        match self
            .fleet
            .wallets
            .create(wallet_id, record.encode().into())
            .await
        {
            Ok(revision) => Ok(revision),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                Err(FleetError::WalletExists {
                    wallet_id: wallet_id.to_owned(),
                })
            }
            Err(e) => Err(FleetError::jetstream("create a wallet")(e.to_string())),
        }
    }

    /// Replaces the record read at `revision`; `Conflict` when another
    /// write came first.
    pub async fn update(
        &self,
        wallet_id: &str,
        record: &WalletRecord,
        revision: u64,
    ) -> Result<u64, FleetError> {
        self.fleet
            .wallets
            .update(wallet_id, record.encode().into(), revision)
            .await
            .map_err(|e| match e.kind() {
                kv::UpdateErrorKind::WrongLastRevision => FleetError::Conflict {
                    wallet_id: wallet_id.to_owned(),
                },
                _ => FleetError::jetstream("update a wallet")(e.to_string()),
            })
    }

    /// Removes the wallet read at `revision`.
    pub async fn delete(&self, wallet_id: &str, revision: u64) -> Result<(), FleetError> {
        self.fleet
            .wallets
            .delete_expect_revision(wallet_id, Some(revision))
            .await
            .map_err(|e| FleetError::jetstream("remove a wallet")(e.to_string()))
    }

    /// Applies `change` to the current record until it lands (another
    /// replica may write in between); `change` returns `false` when there is
    /// nothing to do. `Ok(false)`: nothing changed, or no such wallet.
    pub async fn modify(
        &self,
        wallet_id: &str,
        change: impl Fn(&mut WalletRecord) -> bool,
    ) -> Result<bool, FleetError> {
        for _ in 0..CAS_ATTEMPTS {
            let Some((mut record, revision)) = self.read(wallet_id).await? else {
                return Ok(false);
            };
            if !change(&mut record) {
                return Ok(false);
            }
            match self.update(wallet_id, &record, revision).await {
                Ok(_) => return Ok(true),
                Err(FleetError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(FleetError::Conflict {
            wallet_id: wallet_id.to_owned(),
        })
    }

    /// Every wallet id in the bucket.
    pub async fn ids(&self) -> Result<Vec<String>, FleetError> {
        let failed = |e: String| FleetError::jetstream("list wallets")(e);
        let mut keys = self
            .fleet
            .wallets
            .keys()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut ids = Vec::new();
        while let Some(key) = keys.next().await {
            ids.push(key.map_err(|e| failed(e.to_string()))?);
        }
        Ok(ids)
    }
}
