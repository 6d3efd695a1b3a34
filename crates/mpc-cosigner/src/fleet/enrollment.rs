//! Enrollment for the fleet: the allowlist and the tokens in the
//! enrollment bucket, so a token `mpc-cosigner enroll` issued against any
//! replica admits one keygen through any other. Keys: `client.<fingerprint>`
//! (the allowlisted key, as the operator gave it) and `token.<SHA-256 of the
//! token>` (its expiry; `held <expiry>` while a keygen uses it).

use std::future::Future;

use async_nats::jetstream::kv;
use mpc_session::{ExpectedKey, Fingerprint};

use super::{leader_entry, Fleet, FleetError, ENROLLMENT_BUCKET};

/// A token's value while a keygen holds it.
const HELD: &str = "held ";

/// The enrollment bucket of the fleet.
#[derive(Clone)]
pub struct FleetEnrollment {
    fleet: std::sync::Arc<Fleet>,
}

/// A token a keygen holds: given back, or deleted once the wallet exists.
pub struct HeldToken {
    bucket: kv::Store,
    key: String,
    expires_at: u64,
    revision: u64,
}

/// Why a token cannot be held.
pub enum Unusable {
    /// Unknown, used, held by another keygen, or expired.
    Token,
    Fleet(FleetError),
}

fn client_key(fingerprint: &Fingerprint) -> String {
    format!("client.{}", fingerprint.to_string().replace(':', ""))
}

fn token_key(token_id: &str) -> String {
    format!("token.{token_id}")
}

/// Runs bucket work from a storage task (`spawn_blocking`).
fn wait<F: Future>(work: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(work)
}

impl FleetEnrollment {
    pub fn new(fleet: Fleet) -> FleetEnrollment {
        FleetEnrollment {
            fleet: std::sync::Arc::new(fleet),
        }
    }

    /// Whether `client_pub` is on the allowlist. Blocking.
    pub fn allowed(&self, client_pub: &[u8; 32]) -> Result<bool, FleetError> {
        let key = client_key(&Fingerprint::of(client_pub));
        Ok(wait(leader_entry(&self.fleet.js, ENROLLMENT_BUCKET, &key))?.is_some())
    }

    /// Holds the token with this SHA-256 for one keygen. Blocking.
    pub fn hold(&self, token_id: &str, now: u64) -> Result<HeldToken, Unusable> {
        let key = token_key(token_id);
        wait(async {
            let entry = leader_entry(&self.fleet.js, ENROLLMENT_BUCKET, &key)
                .await
                .map_err(Unusable::Fleet)?;
            let (value, revision) = entry.ok_or(Unusable::Token)?;
            let expires_at: u64 = std::str::from_utf8(&value)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .ok_or(Unusable::Token)?;
            let bucket = &self.fleet.enrollment;
            if now > expires_at {
                let _ = bucket.delete_expect_revision(&key, Some(revision)).await;
                return Err(Unusable::Token);
            }
            // The compare-and-set is the hold: of two keygens, one wins.
            let held = format!("{HELD}{expires_at}");
            let revision = bucket
                .update(&key, held.into(), revision)
                .await
                .map_err(|_| Unusable::Token)?;
            Ok(HeldToken {
                bucket: bucket.clone(),
                key,
                expires_at,
                revision,
            })
        })
    }

    /// Stores a new token's SHA-256 with its expiry.
    pub async fn issue(&self, token_id: &str, expires_at: u64) -> Result<(), FleetError> {
        self.fleet
            .enrollment
            .create(token_key(token_id), expires_at.to_string().into())
            .await
            .map(drop)
            .map_err(|e| FleetError::jetstream("store an enrollment token")(e.to_string()))
    }

    /// Allowlists `client` (a key or fingerprint); false when it was already.
    pub async fn allow(&self, client: &ExpectedKey, as_given: &str) -> Result<bool, FleetError> {
        match self
            .fleet
            .enrollment
            .create(
                client_key(&client.fingerprint()),
                as_given.trim().to_owned().into(),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(FleetError::jetstream("allowlist a client")(e.to_string())),
        }
    }
}

impl HeldToken {
    /// The wallet exists: the token is gone for good.
    pub async fn spend(self) {
        if let Err(error) = self
            .bucket
            .delete_expect_revision(&self.key, Some(self.revision))
            .await
        {
            tracing::error!(token = %self.key, %error, "could not remove a used enrollment token");
        }
    }

    /// The keygen failed: the token is usable again.
    pub async fn release(self) {
        let value = self.expires_at.to_string();
        if let Err(error) = self
            .bucket
            .update(&self.key, value.into(), self.revision)
            .await
        {
            tracing::error!(token = %self.key, %error, "could not release an enrollment token");
        }
    }
}
