//! The policy in force: the file's rules (swapped whole on reload), the
//! operator's own policies after them, and the ledger they count against.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use mpc_api::RejectionCode;
use mpc_evm::SignPayload;
use mpc_session::Rejection;

use super::file::{FileError, PolicyFile};
use super::ledger::{millis, Entry, History, Ledger, LedgerError};
use super::shared::{SharedLedger, SharedLedgerError};
use super::{Effects, Policy, Refusal, Request, Rules};

/// The ledger's file in the co-signer's data dir.
pub const LEDGER_FILE: &str = "policy-ledger.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    SharedLedger(crate::fleet::FleetError),
    /// A policy refused: the request is not signed.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl From<SharedLedgerError> for PolicyError {
    fn from(error: SharedLedgerError) -> PolicyError {
        match error {
            SharedLedgerError::Refused(refusal) => PolicyError::Refused(refusal),
            SharedLedgerError::Fleet(error) => PolicyError::SharedLedger(error),
        }
    }
}

/// Where the signatures are counted: a file for one co-signer, the fleet's
/// ledger bucket for replicas that share their wallets.
enum Books {
    File(Mutex<Ledger>),
    Shared(SharedLedger),
}

/// The policy file, the operator's policies and the ledger.
pub struct PolicyEngine {
    path: PathBuf,
    chain_id: u64,
    file: RwLock<Arc<PolicyFile>>,
    extra: Vec<Box<dyn Policy>>,
    books: Books,
}

impl PolicyEngine {
    /// Loads the policy file at `path` and opens the ledger in `data_dir`
    /// for recording: the serving co-signer.
    pub fn open(path: &Path, data_dir: &Path, chain_id: u64) -> Result<Self, PolicyError> {
        let ledger = Ledger::open(data_dir.join(LEDGER_FILE), SystemTime::now())?;
        Self::with_books(path, Books::File(Mutex::new(ledger)), chain_id)
    }

    /// Loads the policy file at `path`, counting in the fleet's ledger
    /// bucket: the limits hold across every replica.
    pub fn shared(path: &Path, ledger: SharedLedger, chain_id: u64) -> Result<Self, PolicyError> {
        Self::with_books(path, Books::Shared(ledger), chain_id)
    }

    /// Whether the policy file at `path` loads, touching nothing else.
    pub fn validate(path: &Path) -> Result<(), FileError> {
        PolicyFile::load(path).map(drop)
    }

    /// Like [`open`](Self::open), reading the ledger without writing it:
    /// `policy check` and `policy show`, beside a running co-signer.
    pub fn read_only(path: &Path, data_dir: &Path, chain_id: u64) -> Result<Self, PolicyError> {
        let ledger = Ledger::read(data_dir.join(LEDGER_FILE), SystemTime::now())?;
        Self::with_books(path, Books::File(Mutex::new(ledger)), chain_id)
    }

    fn with_books(path: &Path, books: Books, chain_id: u64) -> Result<Self, PolicyError> {
        Ok(PolicyEngine {
            path: path.to_owned(),
            chain_id,
            file: RwLock::new(Arc::new(PolicyFile::load(path)?)),
            extra: Vec::new(),
            books,
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
    /// what it would count, against the file ledger. Writes nothing.
    pub fn evaluate(&self, wallet_id: &str, payload: &SignPayload) -> Result<Effects, PolicyError> {
        let now = SystemTime::now();
        let history = match &self.books {
            Books::File(ledger) => ledger.lock().expect("ledger lock").history(wallet_id, now),
            // `policy check` reads the local file only (see the README).
            Books::Shared(_) => History::default(),
        };
        Ok(self.check(&history, wallet_id, payload)?)
    }

    /// Checks `payload` and, if every policy agrees, records it (durably)
    /// before returning: the caller then signs. The caller holds the
    /// wallet, so no other signature of it runs between. Blocking (an fsync,
    /// or waiting on the fleet's bucket).
    pub fn authorize(&self, wallet_id: &str, payload: &SignPayload) -> Result<(), PolicyError> {
        let now = SystemTime::now();
        let ledger = match &self.books {
            Books::File(ledger) => ledger,
            Books::Shared(ledger) => {
                let authorized = ledger.authorize(wallet_id, now, |history| {
                    self.check(history, wallet_id, payload)
                });
                return Ok(tokio::runtime::Handle::current().block_on(authorized)?);
            }
        };
        let mut ledger = ledger.lock().expect("ledger lock");
        let history = ledger.history(wallet_id, now);
        let effects = self.check(&history, wallet_id, payload)?;
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
        history: &History,
        wallet_id: &str,
        payload: &SignPayload,
    ) -> Result<Effects, Refusal> {
        let effects = Effects::of(payload);
        let request = Request {
            wallet_id,
            chain_id: self.chain_id,
            payload,
            effects: &effects,
            history,
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
    /// Checks `payload` and, if every policy agrees, records it (durably:
    /// the file fsynced, or the fleet's bucket written) before returning,
    /// answered as the session's refusal otherwise.
    pub async fn authorize_session(
        self: &Arc<Self>,
        wallet_id: &str,
        payload: &SignPayload,
    ) -> Result<(), Rejection> {
        match &self.books {
            Books::File(_) => {
                let (engine, wallet_id, payload) =
                    (Arc::clone(self), wallet_id.to_owned(), payload.clone());
                tokio::task::spawn_blocking(move || engine.authorize(&wallet_id, &payload))
                    .await
                    .map_err(|e| Rejection::new(RejectionCode::Internal.as_str(), e.to_string()))?
                    .map_err(Rejection::from)
            }
            Books::Shared(ledger) => ledger
                .authorize(wallet_id, SystemTime::now(), |history| {
                    self.check(history, wallet_id, payload)
                })
                .await
                .map_err(|error| Rejection::from(PolicyError::from(error))),
        }
    }
}

impl From<PolicyError> for Rejection {
    fn from(error: PolicyError) -> Rejection {
        match error {
            PolicyError::Refused(refusal) => refusal.rejection(),
            // Not counted, so not signed; worth a retry when JetStream is
            // back a moment later.
            PolicyError::SharedLedger(error) => crate::wallets::fleet_refusal(error),
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

#[cfg(test)]
mod tests {
    use mpc_evm::Bytes;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::policy::PolicyRule;

    const CHAIN: u64 = 11_155_111;

    fn message(text: &str) -> SignPayload {
        SignPayload::PersonalMessage(Bytes::from(text.as_bytes().to_vec()))
    }

    fn engine(dir: &Path, policy: &str) -> PolicyEngine {
        let file = dir.join("policy.toml");
        std::fs::write(&file, policy).unwrap();
        PolicyEngine::open(&file, dir, CHAIN).unwrap()
    }

    fn refused_rule(result: Result<impl Sized, PolicyError>) -> PolicyRule {
        match result {
            Err(PolicyError::Refused(refusal)) => refusal.rule,
            Err(other) => panic!("not a refusal: {other}"),
            Ok(_) => panic!("allowed"),
        }
    }

    #[test]
    fn authorize_counts_durably_and_evaluate_counts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), "max_signatures_per_minute = 2\n");
        for _ in 0..5 {
            engine.evaluate("w", &message("a")).unwrap();
        }
        engine.authorize("w", &message("a")).unwrap();
        engine.authorize("w", &message("b")).unwrap();
        let third = engine.authorize("w", &message("c"));
        assert_eq!(refused_rule(third), PolicyRule::SignaturesPerMinute);
        // Another wallet has its own count.
        engine.authorize("other", &message("a")).unwrap();

        // A restarted co-signer reads the same count from the ledger.
        drop(engine);
        let file = dir.path().join("policy.toml");
        let reopened = PolicyEngine::read_only(&file, dir.path(), CHAIN).unwrap();
        let again = reopened.evaluate("w", &message("d"));
        assert_eq!(refused_rule(again), PolicyRule::SignaturesPerMinute);
    }

    #[test]
    fn a_reload_that_fails_keeps_the_rules_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), "[message]\nallowed = false\n");
        let refused = engine.evaluate("w", &message("hi"));
        assert_eq!(refused_rule(refused), PolicyRule::MessageAllowed);

        std::fs::write(engine.path(), "[message]\nallowed = nope\n").unwrap();
        let error = engine.reload().unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
        let refused = engine.evaluate("w", &message("hi"));
        assert_eq!(refused_rule(refused), PolicyRule::MessageAllowed);

        std::fs::write(engine.path(), "[message]\nallowed = true\n").unwrap();
        engine.reload().unwrap();
        engine.evaluate("w", &message("hi")).unwrap();
    }

    /// An operator's rule: no messages that mention a word.
    struct NoWord(&'static str);

    impl Policy for NoWord {
        fn check(&self, request: &Request<'_>) -> Result<(), Refusal> {
            match request.payload {
                SignPayload::PersonalMessage(text)
                    if text.windows(self.0.len()).any(|w| w == self.0.as_bytes()) =>
                {
                    Err(Refusal::new(
                        PolicyRule::Other("acme.no_word".into()),
                        self.0,
                        format!("messages may not say {:?}", self.0),
                    ))
                }
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn an_operators_policy_runs_after_the_files_and_is_named_in_the_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path(), "").with_policy(NoWord("secret"));
        engine.authorize("w", &message("hello")).unwrap();
        let Err(PolicyError::Refused(refusal)) = engine.authorize("w", &message("a secret")) else {
            panic!("the operator's policy did not refuse");
        };
        let rejection = refusal.rejection();
        assert_eq!(rejection.code, "policy_refused");
        assert_eq!(
            rejection.message,
            "rule acme.no_word: messages may not say \"secret\""
        );
        let violation = rejection.violation.expect("a violation");
        assert_eq!(
            (violation.rule.as_str(), violation.value.as_str()),
            ("acme.no_word", "secret")
        );
    }

    /// A `Rejection` as a peer from before policy violations encodes it.
    #[derive(Serialize, Deserialize)]
    struct OldRejection {
        code: String,
        message: String,
    }

    #[test]
    fn refusals_decode_both_ways_with_peers_that_predate_violations() {
        let old = OldRejection {
            code: "busy".into(),
            message: "retry".into(),
        };
        let new: Rejection = mpc_api::decode("rejection", &mpc_api::encode(&old)).unwrap();
        assert_eq!(new, Rejection::new("busy", "retry"));
        let refusal = Refusal::new(PolicyRule::MaxValue, "2 ETH", "2 ETH is above 1 ETH");
        let seen: OldRejection =
            mpc_api::decode("rejection", &mpc_api::encode(&refusal.rejection())).unwrap();
        assert_eq!(seen.message, "rule tx.max_value: 2 ETH is above 1 ETH");
    }
}
