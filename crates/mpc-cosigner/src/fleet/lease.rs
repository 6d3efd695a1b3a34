//! A per-wallet lease in KV: at most one session per wallet across the
//! fleet. Created (create-only) for a session, renewed by compare-and-set
//! while it runs, deleted at its end; the bucket's age limit is its TTL, so
//! a replica that dies mid-session frees the wallet within it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv;
use serde::Serialize;

use super::FleetError;

/// Who holds a lease, for an operator looking at the bucket.
#[derive(Serialize)]
struct Holder<'a> {
    replica: &'a str,
    pid: u32,
}

pub struct Lease {
    store: kv::Store,
    wallet_id: String,
    /// The revision of the last write of this lease, for renewal and release.
    revision: Arc<Mutex<u64>>,
    renewal: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Takes the wallet's lease; `None` while another session holds it.
    pub async fn acquire(
        store: &kv::Store,
        ttl: Duration,
        wallet_id: &str,
        replica: &str,
    ) -> Result<Option<Lease>, FleetError> {
        let holder = serde_json::to_vec(&Holder {
            replica,
            pid: std::process::id(),
        })
        .expect("a lease holder serializes");
        let revision = match store.create(wallet_id, holder.clone().into()).await {
            Ok(revision) => revision,
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(FleetError::jetstream("take a wallet lease")(e.to_string())),
        };
        let revision = Arc::new(Mutex::new(revision));
        let renewal = tokio::spawn(renew(
            store.clone(),
            wallet_id.to_owned(),
            holder,
            Arc::clone(&revision),
            ttl / 3,
        ));
        Ok(Some(Lease {
            store: store.clone(),
            wallet_id: wallet_id.to_owned(),
            revision,
            renewal,
        }))
    }
}

/// Renews every `every` until aborted; a lost lease (expired, or taken over
/// after a stall) is logged: the wallet record's compare-and-set still
/// fences every write of the session.
async fn renew(
    store: kv::Store,
    wallet_id: String,
    holder: Vec<u8>,
    revision: Arc<Mutex<u64>>,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let expected = *revision.lock().expect("lease revision");
        match store
            .update(&wallet_id, holder.clone().into(), expected)
            .await
        {
            Ok(renewed) => *revision.lock().expect("lease revision") = renewed,
            Err(error) => {
                tracing::error!(wallet = %wallet_id, %error, "lost the wallet lease");
                return;
            }
        }
    }
}

impl Drop for Lease {
    /// Releases in the background: only this lease's own revision is
    /// deleted, never a lease another session took after it expired.
    fn drop(&mut self) {
        self.renewal.abort();
        let (store, wallet_id) = (self.store.clone(), std::mem::take(&mut self.wallet_id));
        let revision = *self.revision.lock().expect("lease revision");
        tokio::spawn(async move {
            if let Err(error) = store
                .delete_expect_revision(&wallet_id, Some(revision))
                .await
            {
                tracing::warn!(wallet = %wallet_id, %error, "could not release the wallet lease; it expires on its own");
            }
        });
    }
}
