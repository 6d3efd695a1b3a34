//! The policy in force: the file's rules (swapped whole on reload), the
//! operator's own policies after them, and the ledger they count against.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use mpc_api::RejectionCode;
use mpc_evm::SignPayload;
use mpc_session::Rejection;

use super::file::{FileError, PolicyFile};
use super::ledger::{millis, Entry, Ledger, LedgerError};
use super::{Effects, Policy, Refusal, Request, Rules};

/// The ledger's file in the co-signer's data dir.
pub const LEDGER_FILE: &str = "policy-ledger.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A policy refused: the request is not signed.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// The policy file, the operator's policies and the ledger.
pub struct PolicyEngine {
    path: PathBuf,
    chain_id: u64,
    file: RwLock<Arc<PolicyFile>>,
    extra: Vec<Box<dyn Policy>>,
    ledger: Mutex<Ledger>,
}

impl PolicyEngine {
    /// Loads the policy file at `path` and opens the ledger in `data_dir`
    /// for recording: the serving co-signer.
    pub fn open(path: &Path, data_dir: &Path, chain_id: u64) -> Result<Self, PolicyError> {
        let ledger = Ledger::open(data_dir.join(LEDGER_FILE), SystemTime::now())?;
        Self::with_ledger(path, ledger, chain_id)
    }

    /// Like [`open`](Self::open), reading the ledger without writing it:
    /// `policy check` and `policy show`, beside a running co-signer.
    pub fn read_only(path: &Path, data_dir: &Path, chain_id: u64) -> Result<Self, PolicyError> {
        let ledger = Ledger::read(data_dir.join(LEDGER_FILE), SystemTime::now())?;
        Self::with_ledger(path, ledger, chain_id)
    }

    fn with_ledger(path: &Path, ledger: Ledger, chain_id: u64) -> Result<Self, PolicyError> {
        Ok(PolicyEngine {
            path: path.to_owned(),
            chain_id,
            file: RwLock::new(Arc::new(PolicyFile::load(path)?)),
            extra: Vec::new(),
            ledger: Mutex::new(ledger),
        })
    }

    /// Adds an operator's policy, consulted after the file's rules.
    pub fn with_policy(mut self, policy: impl Policy + 'static) -> Self {
        self.extra.push(Box::new(policy));
        self
    }

    /// Reads the policy file again; on an error the rules in force stay.
    pub fn reload(&self) -> Result<(), FileError> {
        let file = PolicyFile::load(&self.path)?;
        *self.file.write().expect("policy lock") = Arc::new(file);
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rules in force for `wallet_id`, or the global ones.
    pub fn rules(&self, wallet_id: Option<&str>) -> Rules {
        let file = self.file.read().expect("policy lock");
        match wallet_id {
            Some(id) => file.rules(id).clone(),
            None => file.global.clone(),
        }
    }

    /// Whether the policy would sign `payload` for `wallet_id` now, and
    /// what it would count. Writes nothing.
    pub fn evaluate(&self, wallet_id: &str, payload: &SignPayload) -> Result<Effects, PolicyError> {
        let now = SystemTime::now();
        let ledger = self.ledger.lock().expect("ledger lock");
        Ok(self.check(&ledger, wallet_id, payload, now)?)
    }

    /// Checks `payload` and, if every policy agrees, records it in the
    /// ledger (fsynced) before returning: the caller then signs. The
    /// caller holds the wallet, so no other signature of it runs between.
    pub fn authorize(&self, wallet_id: &str, payload: &SignPayload) -> Result<(), PolicyError> {
        let now = SystemTime::now();
        let mut ledger = self.ledger.lock().expect("ledger lock");
        let effects = self.check(&ledger, wallet_id, payload, now)?;
        ledger.record(Entry {
            wallet: wallet_id.to_owned(),
            at_ms: millis(now),
            native: effects.native_spend,
            tokens: effects.token_amounts().collect(),
        })?;
        Ok(())
    }

    fn check(
        &self,
        ledger: &Ledger,
        wallet_id: &str,
        payload: &SignPayload,
        now: SystemTime,
    ) -> Result<Effects, Refusal> {
        let effects = Effects::of(payload);
        let history = ledger.history(wallet_id, now);
        let request = Request {
            wallet_id,
            chain_id: self.chain_id,
            payload,
            effects: &effects,
            history: &history,
        };
        let file = Arc::clone(&self.file.read().expect("policy lock"));
        file.rules(wallet_id).check(&request)?;
        for policy in &self.extra {
            policy.check(&request)?;
        }
        Ok(effects)
    }
}

impl PolicyEngine {
    /// [`authorize`](Self::authorize) off the async workers (the ledger
    /// fsyncs), answered as the session's refusal.
    pub async fn authorize_session(
        self: &Arc<Self>,
        wallet_id: &str,
        payload: &SignPayload,
    ) -> Result<(), Rejection> {
        let (engine, wallet_id, payload) =
            (Arc::clone(self), wallet_id.to_owned(), payload.clone());
        tokio::task::spawn_blocking(move || engine.authorize(&wallet_id, &payload))
            .await
            .map_err(|e| Rejection::new(RejectionCode::Internal.as_str(), e.to_string()))?
            .map_err(Rejection::from)
    }
}

impl From<PolicyError> for Rejection {
    fn from(error: PolicyError) -> Rejection {
        match error {
            PolicyError::Refused(refusal) => refusal.rejection(),
            // Fail closed: what cannot be counted is not signed.
            other => Rejection::new(RejectionCode::Internal.as_str(), other.to_string()),
        }
    }
}

/// Reloads the policy file on every SIGHUP. A file that does not validate
/// is logged and the policy in force stays.
#[cfg(unix)]
pub fn spawn_reload_on_hangup(
    engine: Arc<PolicyEngine>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let reloading = Arc::clone(&engine);
            match tokio::task::spawn_blocking(move || reloading.reload()).await {
                Ok(Ok(())) => tracing::info!(file = %engine.path().display(), "policy reloaded"),
                Ok(Err(error)) => tracing::error!(
                    %error,
                    "the policy file was not reloaded; the previous policy stays in force"
                ),
                Err(error) => tracing::error!(%error, "the policy reload task failed"),
            }
        }
    }))
}
