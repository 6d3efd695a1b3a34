//! A connection to the broker, and through it to the co-signer and the
//! broadcaster. Cheap to clone: every clone shares one NATS connection (and,
//! with the embedded default, one set of local services).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mpc_api::broadcast::{self, BroadcastResult, BroadcastStatus, ResultSubscription, Waiting};
use mpc_api::{
    decode, encode, recv_confirm, rounds, send_confirm, Accepted, KeygenRequest, RejectionCode,
    StatusRequest, PROTOCOL,
};
use mpc_evm::{EvmRpc, SignPayload, B256};
use mpc_protocol::{Dkls23, Party, PeerChannel, SessionContext, ThresholdSigner};
use mpc_session::{
    ExpectedKey, Fingerprint, Identity, NatsPeerChannel, Op, SessionClient, SessionConfig,
    SessionId,
};
use mpc_store::{KeySource, Overwrite, Passphrase};
use serde::Serialize;

use crate::embedded::{Embedded, ObserverAccess};
use crate::error::{Error, Result};
use crate::share::{self, ClientShare};
use crate::wallet::{Share, Wallet};

/// The chain a default connection expects: Sepolia.
pub const DEFAULT_CHAIN_ID: u64 = 11_155_111;

/// How a [`Connection`] is made. Either a broker URL or the embedded default
/// must be chosen: nothing is started behind a caller's back.
///
/// ```no_run
/// # async fn run() -> mpc_client::Result<()> {
/// use std::time::Duration;
///
/// let connection = mpc_client::Connection::builder()
///     .nats_url("nats://client:secret@127.0.0.1:4222")
///     .rpc_url("http://127.0.0.1:8545")
///     .chain_id(11155111)
///     .round_timeout(Duration::from_secs(10))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionBuilder {
    broker: Option<Broker>,
    rpc_url: Option<String>,
    chain_id: u64,
    round_timeout: Duration,
    on_session_start: Option<SessionHook>,
    cosigner_key: Option<ExpectedKey>,
    enrollment: Enrollment,
    retry_for: Duration,
}

/// How keygen asks the co-signer to admit it (see
/// [`ConnectionBuilder::enrollment_token`] and [`ConnectionBuilder::client_identity`]).
#[derive(Debug, Clone, Default)]
struct Enrollment {
    token: Option<String>,
    identity: Option<Arc<Identity>>,
}

/// What [`ConnectionBuilder::on_session_start`] calls.
type SessionCallback = dyn Fn(&Op, &SessionId) + Send + Sync;

#[derive(Clone)]
struct SessionHook(Arc<SessionCallback>);

impl std::fmt::Debug for SessionHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionHook")
    }
}

#[derive(Debug, Clone)]
enum Broker {
    Url(String),
    /// Start a local broker and co-signer with their state under this
    /// folder, and the broadcaster if asked.
    Embedded {
        home: PathBuf,
        broadcaster: bool,
    },
}

impl Default for ConnectionBuilder {
    fn default() -> Self {
        ConnectionBuilder {
            broker: None,
            rpc_url: None,
            chain_id: DEFAULT_CHAIN_ID,
            round_timeout: SessionConfig::default().round_timeout,
            on_session_start: None,
            cosigner_key: None,
            enrollment: Enrollment::default(),
            retry_for: Duration::ZERO,
        }
    }
}

impl ConnectionBuilder {
    /// The broker: `nats://user:password@host:port`, comma-separated for a cluster.
    pub fn nats_url(mut self, url: impl Into<String>) -> Self {
        self.broker = Some(Broker::Url(url.into()));
        self
    }

    /// Opt in to the embedded default: start a local nats-server and
    /// co-signer, keeping their state under `home`. For development and
    /// demos; a real deployment runs the co-signer on another machine.
    pub fn embedded(mut self, home: impl Into<PathBuf>) -> Self {
        self.broker = Some(Broker::Embedded {
            home: home.into(),
            broadcaster: false,
        });
        self
    }

    /// With [`embedded`](Self::embedded), also start the broadcaster (it
    /// needs the RPC URL). Only what broadcasts needs it.
    pub fn embedded_broadcaster(mut self) -> Self {
        if let Some(Broker::Embedded { broadcaster, .. }) = &mut self.broker {
            *broadcaster = true;
        }
        self
    }

    /// The EVM JSON-RPC URL, for preparing transactions and checking the chain.
    pub fn rpc_url(mut self, url: impl Into<String>) -> Self {
        self.rpc_url = Some(url.into());
        self
    }

    /// The chain every transaction must be for (default Sepolia, 11155111).
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = chain_id;
        self
    }

    /// How long to wait for the co-signer in each protocol round.
    pub fn round_timeout(mut self, timeout: Duration) -> Self {
        self.round_timeout = timeout;
        self
    }

    /// The co-signer [`keygen`](Connection::keygen) must find: its public key
    /// or fingerprint, as the operator's `mpc-cosigner identity` prints it.
    /// Any other key answering is refused ([`Error::CosignerKeyMismatch`])
    /// before anything is sent or written. Without it, keygen trusts the
    /// first key that answers (and says which, in
    /// [`KeygenOutcome::cosigner_fingerprint`]). Later sessions of a wallet
    /// use the key pinned in its share either way.
    pub fn cosigner_key(mut self, expected: ExpectedKey) -> Self {
        self.cosigner_key = Some(expected);
        self
    }

    /// The single-use enrollment token the co-signer's operator issued
    /// (`mpc-cosigner enroll`), for a [`keygen`](Connection::keygen) by a
    /// client the co-signer does not know yet. Without it (or an allowlisted
    /// [`client_identity`](Self::client_identity)) an enrolled co-signer
    /// refuses keygen with `not_enrolled`.
    pub fn enrollment_token(mut self, token: impl Into<String>) -> Self {
        self.enrollment.token = Some(token.into());
        self
    }

    /// The static key [`keygen`](Connection::keygen) pins for new wallets,
    /// instead of a fresh one per wallet: give it when the operator allowlisted
    /// its public key (`mpc-cosigner enroll --client`). Each wallet's share
    /// keeps its own copy; later sessions use that.
    pub fn client_identity(mut self, identity: Identity) -> Self {
        self.enrollment.identity = Some(Arc::new(identity));
        self
    }

    /// Calls `hook` with the op and id of every session the co-signer
    /// Lets a signing retry, with a fresh session each time, for up to
    /// `window` when no co-signer answered, one timed out or dropped the
    /// session, or the wallet was busy: what a fleet's replica restarting or
    /// a broker node failing looks like. Off by default: a single co-signer
    /// that is gone stays gone, and is reported at once.
    pub fn retry_transient(mut self, window: Duration) -> Self {
        self.retry_for = window;
        self
    }

    /// accepts, before its first round: for example to print the id, which
    /// `mpc watch <session>` and observers of the broker can follow.
    pub fn on_session_start(
        mut self,
        hook: impl Fn(&Op, &SessionId) + Send + Sync + 'static,
    ) -> Self {
        self.on_session_start = Some(SessionHook(Arc::new(hook)));
        self
    }

    /// Connects (starting the embedded services if chosen).
    pub async fn connect(self) -> Result<Connection> {
        let (url, embedded) = match &self.broker {
            Some(Broker::Url(url)) => (url.clone(), None),
            Some(Broker::Embedded { home, broadcaster }) => {
                let home = home.clone();
                let rpc_url = self.rpc_url.clone().filter(|_| *broadcaster);
                let chain_id = self.chain_id;
                let embedded = blocking(move || {
                    Embedded::start(&home, rpc_url.as_deref().map(|url| (url, chain_id)))
                })
                .await?;
                (embedded.client_url(), Some(embedded))
            }
            None => return Err(Error::Embedded(
                "no broker chosen: give a NATS URL, or opt in to the embedded broker and co-signer"
                    .to_owned(),
            )),
        };
        let nats = mpc_session::connect(&url).await?;
        let connection = Connection {
            inner: Arc::new(Inner {
                nats,
                rpc_url: self.rpc_url,
                chain_id: self.chain_id,
                session_config: SessionConfig {
                    round_timeout: self.round_timeout,
                    ..SessionConfig::default()
                },
                embedded: Mutex::new(embedded),
                on_session_start: self.on_session_start,
                cosigner_key: self.cosigner_key,
                enrollment: self.enrollment,
                retry_for: self.retry_for,
            }),
        };
        if connection.is_embedded() {
            connection.wait_for_embedded_cosigner().await?;
        }
        Ok(connection)
    }
}

/// A connection to the broker. See [`Connection::builder`].
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("chain_id", &self.inner.chain_id)
            .field("embedded", &self.is_embedded())
            .finish_non_exhaustive()
    }
}

struct Inner {
    nats: mpc_session::Client,
    rpc_url: Option<String>,
    chain_id: u64,
    session_config: SessionConfig,
    /// Stopped when the last clone of the connection goes.
    embedded: Mutex<Option<Embedded>>,
    on_session_start: Option<SessionHook>,
    cosigner_key: Option<ExpectedKey>,
    enrollment: Enrollment,
    retry_for: Duration,
}

/// A new wallet, as keygen made it.
#[derive(Debug, Clone, Serialize)]
pub struct KeygenOutcome {
    /// The wallet's master address.
    pub address: mpc_evm::Address,
    /// The wallet's compressed secp256k1 public key.
    pub public_key: alloy::primitives::FixedBytes<33>,
    /// The wallet's id, shared with the co-signer.
    pub wallet_id: String,
    /// The keygen session.
    pub session_id: String,
    /// Where the client share was written.
    pub share: PathBuf,
    /// The fingerprint of the co-signer key pinned in the share, to compare
    /// with the operator's `mpc-cosigner identity`.
    pub cosigner_fingerprint: Fingerprint,
}

/// The co-signer's answer to a health check.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// The co-signer's version.
    pub cosigner_version: String,
    /// Whether the connection runs the embedded services.
    pub embedded: bool,
}

/// A transaction handed to the broadcaster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    /// The transaction's hash.
    pub tx_hash: B256,
    /// Whether the same transaction was already queued (it is sent once).
    pub duplicate: bool,
    /// What it came to: final when waited for; otherwise what the
    /// broadcaster last recorded (`queued` when it has not seen it yet).
    pub result: BroadcastResult,
}

impl Connection {
    /// Starts building a connection.
    pub fn builder() -> ConnectionBuilder {
        ConnectionBuilder::default()
    }

    /// The underlying NATS connection.
    pub fn nats(&self) -> &mpc_session::Client {
        &self.inner.nats
    }

    /// How long a signing may retry transient failures
    /// ([`ConnectionBuilder::retry_transient`]).
    pub(crate) fn retry_for(&self) -> Duration {
        self.inner.retry_for
    }

    /// The chain this connection signs for.
    pub fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    /// Whether this connection started the embedded services.
    pub fn is_embedded(&self) -> bool {
        self.embedded_guard().is_some()
    }

    /// Read-only access to the embedded broker's traffic; `None` when the
    /// connection uses a broker URL (its observer password is the operator's).
    pub fn observer(&self) -> Option<ObserverAccess> {
        self.embedded_guard().as_ref().map(Embedded::observer)
    }

    fn embedded_guard(&self) -> std::sync::MutexGuard<'_, Option<Embedded>> {
        // A poisoned lock only means a panic elsewhere; the children are still ours.
        self.inner
            .embedded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn request_timeout(&self) -> Duration {
        self.inner.session_config.request_timeout
    }

    /// The node at the configured RPC, checked to serve the configured chain.
    pub async fn rpc(&self, operation: &'static str) -> Result<EvmRpc> {
        let url = self
            .inner
            .rpc_url
            .as_deref()
            .ok_or(Error::RpcUrlMissing { operation })?;
        Ok(EvmRpc::connect(url, self.inner.chain_id).await?)
    }

    /// Before signing `payload`: when it is a transaction and an RPC URL is
    /// set, checks that the node serves the configured chain (a transaction
    /// signed for one chain must not go to another's node).
    pub async fn check_chain_for(&self, payload: &SignPayload) -> Result<()> {
        if payload.transaction().is_some() && self.inner.rpc_url.is_some() {
            self.rpc("checking the chain").await?;
        }
        Ok(())
    }

    /// Pushes out buffered messages. The last signing round is ours and
    /// unanswered: if the caller exits with it still buffered, the co-signer
    /// waits a full round timeout for it, holding the wallet busy.
    pub(crate) async fn flush(&self) {
        match tokio::time::timeout(self.request_timeout(), self.inner.nats.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not flush the broker connection"),
            Err(_) => tracing::warn!("flushing the broker connection timed out"),
        }
    }

    /// The embedded co-signer needs a moment to subscribe after it starts.
    async fn wait_for_embedded_cosigner(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(exited) = self.embedded_guard().as_mut().and_then(Embedded::exited) {
                return Err(Error::Embedded(exited));
            }
            match mpc_session::health(&self.inner.nats, Duration::from_millis(500)).await {
                Ok(_) => return Ok(()),
                Err(error) if tokio::time::Instant::now() > deadline => return Err(error.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Asks the co-signer whether it is up.
    pub async fn health(&self) -> Result<Health> {
        let health = mpc_session::health(&self.inner.nats, self.request_timeout()).await?;
        if health.status != "ok" {
            return Err(Error::Embedded(format!(
                "the co-signer reports status {:?}",
                health.status
            )));
        }
        Ok(Health {
            cosigner_version: health.version,
            embedded: self.is_embedded(),
        })
    }

    /// Runs a distributed key generation with the co-signer and writes the
    /// client share to `out` (encrypted under `key_source`) only after the
    /// co-signer confirmed it stored its own. Returns the wallet, opened.
    pub async fn keygen(
        &self,
        out: &Path,
        key_source: KeySource,
        overwrite: Overwrite,
    ) -> Result<(Wallet, KeygenOutcome)> {
        let token = self.inner.enrollment.token.clone();
        self.keygen_enrolled(out, key_source, overwrite, token)
            .await
    }

    /// [`keygen`](Self::keygen) admitted by this enrollment `token` instead
    /// of the builder's [`enrollment_token`](ConnectionBuilder::enrollment_token):
    /// for a service that keeps one connection and is handed a token per wallet.
    pub async fn keygen_enrolled(
        &self,
        out: &Path,
        key_source: KeySource,
        overwrite: Overwrite,
        token: Option<String>,
    ) -> Result<(Wallet, KeygenOutcome)> {
        if overwrite == Overwrite::Refuse && out.exists() {
            return Err(mpc_store::StoreError::AlreadyExists { path: out.into() }.into());
        }
        // The key that answers is pinned in the new share: the expected one
        // when given, else whichever answers (trust on first use). `hello` is
        // unauthenticated; Noise KK then proves the keygen peer holds that key.
        let cosigner_pub = mpc_session::hello(&self.inner.nats, self.request_timeout()).await?;
        let cosigner_fingerprint = Fingerprint::of(&cosigner_pub);
        if let Some(expected) = &self.inner.cosigner_key {
            if !expected.matches(&cosigner_pub) {
                return Err(Error::CosignerKeyMismatch {
                    expected: expected.fingerprint(),
                    found: cosigner_fingerprint,
                });
            }
        }
        let wallet_id = uuid::Uuid::new_v4().to_string();
        let request = KeygenRequest {
            wallet_id: wallet_id.clone(),
            protocol: PROTOCOL.to_owned(),
            enrollment_token: token,
        };
        let identity = match &self.inner.enrollment.identity {
            Some(identity) => Identity::from_bytes(&identity.to_bytes())?,
            None => Identity::generate()?,
        };
        let sessions = self.sessions(identity);
        let (mut channel, session, _) =
            open(&sessions, &cosigner_pub, &Op::Keygen, &request).await?;
        let context = SessionContext::new(session.as_str(), wallet_id.as_str());
        let key_share = Dkls23.keygen(Party::Client, &context, &mut channel).await?;
        recv_confirm(&mut channel, rounds::KEYGEN_SAVED, 0).await?;
        let outcome = KeygenOutcome {
            address: key_share.address().parse().map_err(|e| {
                Error::Internal(format!("the new key's address does not parse: {e}"))
            })?,
            public_key: key_share.public_key().to_compressed().into(),
            wallet_id: wallet_id.clone(),
            session_id: session.to_string(),
            share: out.to_owned(),
            cosigner_fingerprint,
        };
        let passphrase = match &key_source {
            KeySource::Passphrase(passphrase) => Some(passphrase.clone()),
            KeySource::Keyring(_) => None,
        };
        let client_share = ClientShare {
            path: out.to_owned(),
            wallet_id,
            version: 0,
            share: key_share,
            identity: Identity::from_bytes(&sessions.identity().to_bytes())?,
            cosigner_pub,
        };
        // Written from memory and kept in memory: the new wallet signs
        // without reading and decrypting (Argon2id) the file just written.
        let written = blocking(move || {
            share::save_new(
                &client_share.path,
                &client_share.wallet_id,
                &client_share.share,
                &client_share.identity,
                &client_share.cosigner_pub,
                &key_source,
                overwrite,
            )?;
            Ok(client_share)
        })
        .await;
        let client_share = match written {
            Ok(client_share) => client_share,
            Err(error) => {
                // Without our share the co-signer's is useless: it removes it now.
                channel.abort("the client could not write its share").await;
                return Err(error);
            }
        };
        self.confirm_keygen(&mut channel, &client_share).await?;
        Ok((
            Wallet::new(self.clone(), Share::from_loaded(client_share, passphrase)),
            outcome,
        ))
    }

    /// Tells the co-signer the client share is on disk, so it keeps the new
    /// wallet. If its answer is lost, a status session (which any session
    /// of the pinned client also does) confirms instead.
    async fn confirm_keygen(
        &self,
        channel: &mut NatsPeerChannel,
        client_share: &ClientShare,
    ) -> Result<()> {
        let confirmed = async {
            send_confirm(channel, rounds::KEYGEN_WRITTEN, 0).await?;
            recv_confirm(channel, rounds::KEYGEN_CONFIRMED, 0).await
        }
        .await;
        let Err(first) = confirmed else {
            return Ok(());
        };
        tracing::warn!(error = %first, "no keygen confirmation; confirming with a status session");
        let request = StatusRequest {
            wallet_id: client_share.wallet_id.clone(),
        };
        let sessions = self.sessions(Identity::from_bytes(&client_share.identity.to_bytes())?);
        match open(&sessions, &client_share.cosigner_pub, &Op::Status, &request).await {
            Ok(_) => Ok(()),
            Err(error) => Err(Error::KeygenUnconfirmed {
                path: client_share.path.clone(),
                reason: error.to_string(),
            }),
        }
    }

    /// Opens the wallet whose client share is at `path`; `passphrase` when
    /// its header says it is passphrase-protected. The share is decrypted
    /// once: the wallet then signs many times without reading the file again.
    pub async fn open_wallet(&self, path: &Path, passphrase: Option<Passphrase>) -> Result<Wallet> {
        Ok(Wallet::new(
            self.clone(),
            Share::open(path, passphrase).await?,
        ))
    }

    /// Queues a signed raw transaction for the broadcaster, de-duplicated by
    /// its hash; waits up to `wait` for its final result unless `wait` is
    /// `None`. One the broadcaster has seen before (queued again, or asked
    /// about after mining) answers at once with its recorded status.
    pub async fn broadcast(&self, raw: &[u8], wait: Option<Duration>) -> Result<Broadcast> {
        let tx_hash = mpc_evm::decode_raw_tx(raw)?.tx_hash;
        // Subscribe first, so a fast result cannot slip past.
        let mut results = ResultSubscription::new(&self.inner.nats, tx_hash).await?;
        let jetstream = async_nats::jetstream::new(self.inner.nats.clone());
        let queued = broadcast::queue_raw_tx(&jetstream, raw).await?;
        // Stored before published: what came before the subscription is here.
        let stored = broadcast::stored_result(&jetstream, &tx_hash).await?;
        let result = match (wait, stored) {
            (_, Some(done)) if done.status.is_final() => done,
            (Some(wait), interim) => results.until_final(wait, interim).await?,
            (None, interim) => {
                interim.unwrap_or_else(|| BroadcastResult::new(tx_hash, BroadcastStatus::Queued))
            }
        };
        if result.status == BroadcastStatus::Failed {
            return Err(Error::BroadcastFailed {
                tx_hash,
                reason: result.error.unwrap_or_default(),
            });
        }
        Ok(Broadcast {
            tx_hash,
            duplicate: queued.duplicate,
            result,
        })
    }

    /// What the broadcaster last recorded for `tx_hash` (`queued` while it
    /// waits in the queue unseen); `None` when neither knows it.
    pub async fn broadcast_status(&self, tx_hash: &B256) -> Result<Option<BroadcastResult>> {
        let jetstream = async_nats::jetstream::new(self.inner.nats.clone());
        if let Some(stored) = broadcast::stored_result(&jetstream, tx_hash).await? {
            return Ok(Some(stored));
        }
        let queued = broadcast::waiting(&jetstream)
            .await?
            .iter()
            .any(|waiting| waiting.tx.tx_hash == *tx_hash);
        Ok(queued.then(|| BroadcastResult::new(*tx_hash, BroadcastStatus::Queued)))
    }

    /// The transactions waiting in the broadcast queue, oldest first.
    pub async fn queued(&self) -> Result<Vec<Waiting>> {
        let jetstream = async_nats::jetstream::new(self.inner.nats.clone());
        Ok(broadcast::waiting(&jetstream).await?)
    }

    /// Removes `tx_hash` from the broadcast queue so it is never (re)sent;
    /// `None` when it is not queued.
    pub async fn drop_queued(&self, tx_hash: &B256) -> Result<Option<Waiting>> {
        let jetstream = async_nats::jetstream::new(self.inner.nats.clone());
        Ok(broadcast::drop_waiting(&jetstream, tx_hash).await?)
    }

    pub(crate) fn sessions(&self, identity: Identity) -> Sessions {
        Sessions {
            client: SessionClient::new(
                self.inner.nats.clone(),
                identity,
                self.inner.session_config.clone(),
            ),
            on_start: self.inner.on_session_start.clone(),
        }
    }
}

/// Sessions opened with one identity, and the caller's hook for each.
pub(crate) struct Sessions {
    client: SessionClient,
    on_start: Option<SessionHook>,
}

impl Sessions {
    /// The client identity the sessions are opened with.
    pub(crate) fn identity(&self) -> &Identity {
        self.client.identity()
    }
}

/// How often a busy co-signer is asked again (about 1.8 s in all).
const BUSY_RETRIES: u32 = 12;

/// Opens a session with `request` as the op's body; returns its channel,
/// its id and the co-signer's acceptance.
pub(crate) async fn open<T: Serialize>(
    sessions: &Sessions,
    cosigner_pub: &[u8; 32],
    op: &Op,
    request: &T,
) -> Result<(NatsPeerChannel, SessionId, Accepted)> {
    let body = encode(request);
    let mut attempt = 0;
    loop {
        // A fresh id each time: the co-signer never accepts an id twice.
        let session = SessionId::random();
        tracing::info!(session = %session, op = %op, attempt, "opening session");
        match sessions
            .client
            .open(cosigner_pub, op, &session, &body)
            .await
        {
            Ok((channel, response)) => {
                let accepted: Accepted = decode("co-signer acceptance", &response)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                if let Some(hook) = &sessions.on_start {
                    (hook.0)(op, &session);
                }
                return Ok((channel, session, accepted));
            }
            Err(error) => {
                let error = Error::from(error);
                // The wallet's previous session may still be closing on the
                // co-signer's side for a few milliseconds: busy is worth a short wait.
                if matches!(
                    error,
                    Error::Refused {
                        code: RejectionCode::Busy,
                        ..
                    }
                ) && attempt < BUSY_RETRIES
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                    continue;
                }
                return Err(error);
            }
        }
    }
}

/// Runs store work (files, keyring over D-Bus, Argon2id) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("background task: {e}")))?
}
