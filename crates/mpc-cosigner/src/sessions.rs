//! Serving sessions: authenticate the client, check the request against the
//! wallet (pinned identity, share version, lock, the co-signer's own view of
//! what is signed), then run the protocol. A client caught misbehaving locks
//! the wallet.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mpc_api::{
    decode, encode, recv_confirm, refresh_check_digest, rounds, send_confirm, Accepted,
    ConfirmError, KeygenRequest, RefreshRequest, RejectionCode, SignRequest, StatusRequest,
    PROTOCOL,
};
use mpc_evm::TxPolicy;
use mpc_protocol::{
    ChannelError, DerivationPath, Dkls23, Party, PeerChannel, ProtocolError, SessionContext,
    ThresholdSigner,
};
use mpc_session::{
    unix_now, AuthenticatedRequest, Incoming, IncomingRequest, NatsPeerChannel, Op, Rejection,
};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::enrollment::Enrollment;
use crate::fleet::FleetError;
use crate::policy::PolicyEngine;
use crate::replay::{Admission, Memory};
use crate::wallets::{Claim, Wallet, Wallets};

/// How long a request waits for its wallet's previous session to end.
const CLAIM_WAIT: Duration = Duration::from_secs(2);
/// How often it asks again meanwhile (in a fleet, each ask is a KV write).
const CLAIM_RETRY: Duration = Duration::from_millis(25);

pub struct Cosigner {
    wallets: Arc<Wallets>,
    memory: Arc<Memory>,
    enrollment: Arc<Enrollment>,
    /// The floor every payload meets: the chain and the fee cap.
    policy: TxPolicy,
    /// The operator's policy file and ledger, when one is configured.
    engine: Option<Arc<PolicyEngine>>,
    slots: Arc<Semaphore>,
    signer: Dkls23,
}

/// What a co-signer serves with.
pub struct Setup {
    pub wallets: Wallets,
    /// The session ids accepted within the freshness window.
    pub memory: Memory,
    /// Who may create wallets.
    pub enrollment: Enrollment,
    /// Only transactions for this chain are signed.
    pub chain_id: u64,
    /// Sessions served at once; more are refused as busy.
    pub max_sessions: usize,
}

/// A request that passed every check, holding its wallet for the session.
struct Prepared<T> {
    body: T,
    wallet: Option<Arc<Wallet>>,
    _claim: Claim,
}

impl Cosigner {
    pub fn new(setup: Setup) -> Cosigner {
        Cosigner {
            wallets: Arc::new(setup.wallets),
            memory: Arc::new(setup.memory),
            enrollment: Arc::new(setup.enrollment),
            policy: TxPolicy::new(setup.chain_id),
            engine: None,
            slots: Arc::new(Semaphore::new(setup.max_sessions)),
            signer: Dkls23,
        }
    }

    /// Signs only what `engine` allows, counting each signature in its ledger.
    pub fn with_policy(mut self, engine: Arc<PolicyEngine>) -> Cosigner {
        self.engine = Some(engine);
        self
    }

    /// Removes wallets whose keygen was never confirmed once they are older
    /// than `ttl`: now, and then every minute (or `ttl`, if shorter).
    pub fn spawn_unconfirmed_sweep(&self, ttl: Duration) -> tokio::task::JoinHandle<()> {
        let wallets = Arc::clone(&self.wallets);
        let every = ttl.clamp(Duration::from_secs(1), Duration::from_secs(60));
        tokio::spawn(async move {
            loop {
                let sweeping = Arc::clone(&wallets);
                match tokio::task::spawn_blocking(move || sweeping.sweep_unconfirmed(ttl)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => {
                        tracing::error!(%error, "could not sweep unconfirmed wallets")
                    }
                    Err(error) => tracing::error!(%error, "the sweep task failed"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// Keeps the share cache in step with changes anywhere in the fleet
    /// ([`Wallets::follow_changes`]), watching again after an error; ends at
    /// once for files.
    pub fn spawn_cache_follower(&self) -> tokio::task::JoinHandle<()> {
        let wallets = Arc::clone(&self.wallets);
        tokio::spawn(async move {
            while let Err(error) = wallets.follow_changes().await {
                tracing::warn!(%error, "the wallets watch stopped; watching again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    /// Serves requests until the subscription ends. Each session runs in its
    /// own task; past `max_sessions` new ones are refused as busy, so a flood
    /// cannot grow memory without bound.
    pub async fn run(self, mut incoming: Incoming) {
        let cosigner = Arc::new(self);
        while let Some(request) = incoming.next().await {
            // A replayed first handshake message would start a session nobody
            // can finish; refuse a known one before spending a slot on it. This
            // only reads: ids are remembered once their request authenticates.
            if cosigner.memory.known(request.session_id.as_str()) {
                tracing::warn!(session = %request.session_id, "refused a replayed session id");
                request
                    .reject(Rejection::new(
                        RejectionCode::SessionReplayed.as_str(),
                        "this session id was already used",
                    ))
                    .await;
                continue;
            }
            let Ok(permit) = Arc::clone(&cosigner.slots).try_acquire_owned() else {
                request
                    .reject(Rejection::new(
                        RejectionCode::Busy.as_str(),
                        "the co-signer is at capacity; retry",
                    ))
                    .await;
                continue;
            };
            let cosigner = Arc::clone(&cosigner);
            tokio::spawn(async move {
                let _permit = permit;
                cosigner.handle(request).await;
            });
        }
    }

    async fn handle(&self, request: IncomingRequest) {
        let span = tracing::info_span!("session", session = %request.session_id, op = %request.op);
        async {
            let claimed_client = request.client_pub;
            // Authenticate against the key the client claims; the wallet's
            // pinned key is compared once the body says which wallet it is.
            let request = match request.authenticate(&claimed_client).await {
                Ok(request) => request,
                Err(error) => {
                    tracing::warn!(error = %error, "request not authenticated");
                    return;
                }
            };
            let request = match self.remember(request).await {
                Ok(Some(request)) => request,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "request refused");
                    return;
                }
            };
            let outcome = match *request.op() {
                Op::Keygen => self.keygen(request).await,
                Op::Sign => self.sign(request).await,
                Op::Refresh => self.refresh(request).await,
                Op::Status => self.status(request).await,
                // Answered by the transport itself; never a session.
                other @ (Op::Health | Op::Hello) => {
                    let message = format!("{other} does not open a session");
                    request
                        .reject(Rejection::new(RejectionCode::UnknownOp.as_str(), message))
                        .await
                        .map_err(Into::into)
                }
            };
            match outcome {
                Ok(()) => tracing::info!("session finished"),
                Err(error) => tracing::warn!(error = %format!("{error:#}"), "session failed"),
            }
        }
        .instrument(span)
        .await
    }

    /// Remembers an authenticated request's session id (durably), so it is
    /// served once, before a restart or after; a replay is refused. `None`
    /// when refused.
    async fn remember(
        &self,
        request: AuthenticatedRequest,
    ) -> anyhow::Result<Option<AuthenticatedRequest>> {
        let admission = self
            .memory
            .admit(
                request.session_id().as_str(),
                request.issued_at(),
                unix_now(),
            )
            .await;
        let refusal = match admission {
            Ok(Admission::Fresh) => return Ok(Some(request)),
            Ok(Admission::Replayed) => {
                tracing::warn!("refused a replayed session id");
                Rejection::new(
                    RejectionCode::SessionReplayed.as_str(),
                    "this session id was already used",
                )
            }
            Ok(Admission::Full) => Rejection::new(
                RejectionCode::Busy.as_str(),
                "the co-signer is at capacity; retry",
            ),
            Err(error) => match error.downcast::<FleetError>() {
                Ok(error) => crate::wallets::fleet_refusal(error),
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "could not remember the session id");
                    Rejection::new(
                        RejectionCode::Internal.as_str(),
                        "the co-signer could not record the session; see its logs",
                    )
                }
            },
        };
        request.reject(refusal).await?;
        Ok(None)
    }

    /// Answers the request: refused with the rejection, or accepted with the
    /// channel for the rounds.
    async fn answer<T>(
        request: AuthenticatedRequest,
        prepared: Result<Prepared<T>, Rejection>,
    ) -> anyhow::Result<Option<(Prepared<T>, NatsPeerChannel)>> {
        match prepared {
            Err(rejection) => {
                tracing::info!(code = %rejection.code, reason = %rejection.message, "refused");
                request.reject(rejection).await?;
                Ok(None)
            }
            Ok(prepared) => {
                let accepted = Accepted {
                    share_version: prepared.wallet.as_ref().map_or(0, |wallet| wallet.version),
                };
                let channel = request.accept(&encode(&accepted)).await?;
                Ok(Some((prepared, channel)))
            }
        }
    }

    async fn keygen(&self, request: AuthenticatedRequest) -> anyhow::Result<()> {
        let client_pub = *request.client_pub();
        let prepared = async {
            let body: KeygenRequest = decode("keygen request", &request.body).map_err(bad)?;
            if body.protocol != PROTOCOL {
                return Err(Rejection::new(
                    RejectionCode::BadRequest.as_str(),
                    format!("protocol {:?} is not served; use {PROTOCOL}", body.protocol),
                ));
            }
            let claim = self.claim(&body.wallet_id).await?;
            let wallet_id = body.wallet_id.clone();
            self.blocking(move |wallets| wallets.ensure_new(&wallet_id))
                .await?;
            let (enrollment, token) = (Arc::clone(&self.enrollment), body.enrollment_token.clone());
            let admitted = tokio::task::spawn_blocking(move || {
                enrollment.admit(&client_pub, token.as_deref(), unix_now())
            })
            .await
            .expect("enrollment task panicked")?;
            Ok(Prepared {
                body: (body.wallet_id, admitted),
                wallet: None,
                _claim: claim,
            })
        }
        .await;
        let Some((prepared, mut channel)) = Self::answer(request, prepared).await? else {
            return Ok(());
        };
        let Prepared {
            body: (wallet_id, admitted),
            _claim,
            ..
        } = prepared;
        let context = SessionContext::new(channel.session_id().as_str(), wallet_id.as_str());
        let share = self
            .signer
            .keygen(Party::Cosigner, &context, &mut channel)
            .await?;
        let address = share.address();
        let stored = {
            let wallet_id = wallet_id.clone();
            self.blocking(move |wallets| wallets.create(&wallet_id, &client_pub, &share))
                .await
        };
        if let Err(error) = stored {
            channel
                .abort("the co-signer could not store its share")
                .await;
            return Err(error).context("store the new share");
        }
        admitted.spend();
        send_confirm(&mut channel, rounds::KEYGEN_SAVED, 0).await?;
        tracing::info!(wallet = %wallet_id, %address, "wallet created, awaiting the client's confirmation");
        match recv_confirm(&mut channel, rounds::KEYGEN_WRITTEN, 0).await {
            Ok(()) => {
                let id = wallet_id.clone();
                self.blocking(move |wallets| wallets.confirm(&id))
                    .await
                    .context("confirm the new wallet")?;
                send_confirm(&mut channel, rounds::KEYGEN_CONFIRMED, 0).await?;
                Ok(())
            }
            // The client said it could not keep its share: nobody can sign
            // with this one, so it goes now.
            Err(ConfirmError::Channel {
                source: ChannelError::PeerAborted(reason),
                ..
            }) => {
                let id = wallet_id.clone();
                self.blocking(move |wallets| wallets.discard_unconfirmed(&id))
                    .await
                    .context("discard the abandoned wallet")?;
                anyhow::bail!("the client abandoned keygen ({reason}); its wallet was removed")
            }
            // Silence: the wallet stays unconfirmed until its client uses it
            // or the sweep removes it.
            Err(error) => Err(error).context("the client did not confirm its share"),
        }
    }

    async fn sign(&self, request: AuthenticatedRequest) -> anyhow::Result<()> {
        let client_pub = *request.client_pub();
        let prepared = async {
            let body: SignRequest = decode("sign request", &request.body).map_err(bad)?;
            let (claim, wallet) = self
                .open_wallet(&body.wallet_id, &client_pub, body.share_version)
                .await?;
            // The digest is computed here, from the payload, never taken from the client.
            let (path, digest) = self.check_payload(&body)?;
            // Counted (and fsynced) before the rounds: a failed signing still counts.
            if let Some(engine) = &self.engine {
                engine
                    .authorize_session(&body.wallet_id, &body.payload)
                    .await?;
            }
            Ok(Prepared {
                body: (body.wallet_id, path, digest),
                wallet: Some(wallet),
                _claim: claim,
            })
        }
        .await;
        let Some((prepared, mut channel)) = Self::answer(request, prepared).await? else {
            return Ok(());
        };
        let (wallet_id, path, digest) = &prepared.body;
        let wallet = prepared.wallet.as_ref().expect("sign opens a wallet");
        let context = SessionContext::new(channel.session_id().as_str(), wallet_id.as_str());
        let signed = self
            .signer
            .sign(&wallet.share, path, *digest, &context, &mut channel)
            .await;
        self.lock_on_misbehaviour(wallet_id, &signed).await;
        signed?;
        tracing::info!(wallet = %wallet_id, %path, digest = %hex::encode(digest), "signed");
        self.settle(wallet_id).await
    }

    /// After a session the pinned client completed with the current share,
    /// which a replayed request cannot do: that client kept its share (a
    /// keygen whose confirmation was lost is settled), and it uses the
    /// current pair, so a share staged by an interrupted refresh is dead.
    async fn settle(&self, wallet_id: &str) -> anyhow::Result<()> {
        if !self.wallets.needs_settling(wallet_id) {
            return Ok(());
        }
        let id = wallet_id.to_owned();
        self.blocking(move |wallets| {
            wallets.confirm(&id)?;
            wallets.discard_staged(&id).map(drop)
        })
        .await
        .context("settle the wallet after a completed session")
    }

    async fn refresh(&self, request: AuthenticatedRequest) -> anyhow::Result<()> {
        let client_pub = *request.client_pub();
        let prepared = async {
            let body: RefreshRequest = decode("refresh request", &request.body).map_err(bad)?;
            let (claim, wallet) = self
                .open_wallet(&body.wallet_id, &client_pub, body.share_version)
                .await?;
            Ok(Prepared {
                body,
                wallet: Some(wallet),
                _claim: claim,
            })
        }
        .await;
        let Some((prepared, mut channel)) = Self::answer(request, prepared).await? else {
            return Ok(());
        };
        let wallet = prepared.wallet.as_ref().expect("refresh opens a wallet");
        let wallet_id = prepared.body.wallet_id.clone();
        let session = channel.session_id().as_str().to_owned();
        let context = SessionContext::new(session.as_str(), wallet_id.as_str());
        let refreshed = self
            .signer
            .refresh(&wallet.share, &context, &mut channel)
            .await;
        self.lock_on_misbehaviour(&wallet_id, &refreshed).await;
        let new_share = Arc::new(refreshed?);
        let new_version = wallet.version + 1;

        let staged = {
            let (wallet_id, new_share) = (wallet_id.clone(), Arc::clone(&new_share));
            let wallet = Arc::clone(wallet);
            self.blocking(move |wallets| {
                wallets.stage(&wallet_id, &wallet, &new_share, new_version)
            })
            .await
        };
        let staged_at = match staged {
            Ok(stamp) => stamp,
            Err(error) => {
                channel
                    .abort("the co-signer could not stage its new share")
                    .await;
                return Err(error).context("stage the refreshed share");
            }
        };
        // From here on, any failure leaves the old pair in force.
        let confirmed = async {
            send_confirm(&mut channel, rounds::REFRESH_STAGED, new_version).await?;
            recv_confirm(&mut channel, rounds::REFRESH_STAGED, new_version).await?;
            let check = SessionContext::new(session.as_str(), format!("{wallet_id}/refresh-check"));
            self.signer
                .sign(
                    &new_share,
                    &DerivationPath::master(),
                    refresh_check_digest(&session),
                    &check,
                    &mut channel,
                )
                .await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = confirmed {
            let id = wallet_id.clone();
            let _ = self
                .blocking(move |wallets| wallets.discard_staged(&id))
                .await;
            return Err(error).context("confirm the refreshed shares");
        }
        // The client completed the check signature: its keygen, if still
        // unconfirmed, is settled with the promotion.
        let id = wallet_id.clone();
        self.blocking(move |wallets| {
            wallets.promote(&id, staged_at)?;
            wallets.confirm(&id)
        })
        .await
        .context("promote the refreshed share")?;
        send_confirm(&mut channel, rounds::REFRESH_PROMOTED, new_version).await?;
        tracing::info!(wallet = %wallet_id, share_version = new_version, "shares refreshed");
        Ok(())
    }

    /// Answers with the share version this co-signer holds, to the
    /// wallet's own client only; the session ends with the answer.
    async fn status(&self, request: AuthenticatedRequest) -> anyhow::Result<()> {
        let client_pub = *request.client_pub();
        let prepared = async {
            let body: StatusRequest = decode("status request", &request.body).map_err(bad)?;
            let (claim, wallet) = self.paired_wallet(&body.wallet_id, &client_pub).await?;
            Ok(Prepared {
                body,
                wallet: Some(wallet),
                _claim: claim,
            })
        }
        .await;
        if let Some((prepared, _)) = Self::answer(request, prepared).await? {
            tracing::info!(wallet = %prepared.body.wallet_id, "status answered");
        }
        Ok(())
    }

    /// Holds the wallet for a session. Its previous session may still be
    /// finishing on this side (its client already has the result and may
    /// send the next request at once): that one is waited for, briefly,
    /// before the request is refused as busy.
    async fn claim(&self, wallet_id: &str) -> Result<Claim, Rejection> {
        let deadline = tokio::time::Instant::now() + CLAIM_WAIT;
        loop {
            match self.wallets.claim(wallet_id).await {
                Err(busy)
                    if busy.code == RejectionCode::Busy.as_str()
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(CLAIM_RETRY).await;
                }
                claimed => return claimed,
            }
        }
    }

    /// Claims and loads a wallet for a session by its pinned client.
    async fn paired_wallet(
        &self,
        wallet_id: &str,
        client_pub: &[u8; 32],
    ) -> Result<(Claim, Arc<Wallet>), Rejection> {
        let claim = self.claim(wallet_id).await?;
        let (id, client) = (wallet_id.to_owned(), *client_pub);
        let wallet = self
            .blocking(move |wallets| wallets.load(&id, &client))
            .await?;
        Ok((claim, wallet))
    }

    /// Claims and loads a wallet for a session by its pinned client, with
    /// the share version both sides must hold.
    async fn open_wallet(
        &self,
        wallet_id: &str,
        client_pub: &[u8; 32],
        client_version: u32,
    ) -> Result<(Claim, Arc<Wallet>), Rejection> {
        let (claim, wallet) = self.paired_wallet(wallet_id, client_pub).await?;
        match client_version.cmp(&wallet.version) {
            std::cmp::Ordering::Equal => Ok((claim, wallet)),
            std::cmp::Ordering::Less => Err(Rejection::new(
                RejectionCode::ClientShareOutdated.as_str(),
                format!(
                    "the co-signer holds share version {} but the client sent {client_version}: \
                     promote the client's staged share",
                    wallet.version
                ),
            )),
            std::cmp::Ordering::Greater => Err(Rejection::new(
                RejectionCode::ShareVersionMismatch.as_str(),
                format!(
                    "the client sent share version {client_version}, the co-signer holds {}",
                    wallet.version
                ),
            )),
        }
    }

    /// The co-signer's own view of what it signs: the digest recomputed from
    /// the payload, after its own policy checks.
    fn check_payload(
        &self,
        request: &SignRequest,
    ) -> Result<(DerivationPath, [u8; 32]), Rejection> {
        let invalid =
            |detail: String| Rejection::new(RejectionCode::InvalidPayload.as_str(), detail);
        // Both transaction forms (tx.json and unsigned EIP-2718 bytes) arrive
        // decoded; the checks apply to the decoded fields.
        request
            .payload
            .validate(&self.policy)
            .map_err(|e| invalid(e.to_string()))?;
        let digest = request
            .payload
            .digest()
            .map_err(|e| invalid(e.to_string()))?;
        let path = request
            .path
            .parse::<DerivationPath>()
            .map_err(|e| invalid(e.to_string()))?;
        Ok((path, digest))
    }

    async fn lock_on_misbehaviour<T>(&self, wallet_id: &str, outcome: &Result<T, ProtocolError>) {
        let Err(error) = outcome else { return };
        if !error.is_misbehaviour() {
            return;
        }
        let (id, evidence) = (wallet_id.to_owned(), error.to_string());
        tracing::error!(wallet = %wallet_id, evidence = %evidence, "client misbehaved: locking the wallet");
        if let Err(e) = self
            .blocking(move |wallets| wallets.lock(&id, &evidence))
            .await
        {
            tracing::error!(wallet = %wallet_id, error = %e, "could not write the wallet lock");
        }
    }

    /// Runs storage work (files, keyring, Argon2id) off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Wallets) -> T + Send + 'static,
    ) -> T {
        let wallets = Arc::clone(&self.wallets);
        tokio::task::spawn_blocking(move || work(&wallets))
            .await
            .expect("storage task panicked")
    }
}

fn bad(error: mpc_api::DecodeError) -> Rejection {
    Rejection::new(RejectionCode::BadRequest.as_str(), error.to_string())
}
