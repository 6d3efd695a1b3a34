//! The client side of every operation, shared by the CLI commands and the
//! HTTP API: connect (or start the embedded broker and co-signer), open an
//! authenticated session, run the protocol, check the result, store shares.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mpc_cosigner_api::{
    codes, decode, encode, recv_confirm, refresh_check_digest, rounds, send_confirm, Accepted,
    KeygenRequest, RefreshRequest, SignRequest, PROTOCOL,
};
use mpc_evm::broadcast::{self, BroadcastStatus, ResultSubscription};
use mpc_evm::{EvmRpc, SignPayload, TxDraft, TxPolicy, TxRequest};
use mpc_protocol::{
    DerivationPath, Dkls23, Party, PeerChannel, ProtocolError, SessionContext, ThresholdSigner,
};
use mpc_session::{Identity, NatsPeerChannel, Op, SessionClient, SessionConfig, SessionId};
use mpc_store::{KeySource, Overwrite, Passphrase};
use serde::Serialize;

use crate::client_share::{self, ClientShare};
use crate::embedded::Embedded;
use crate::output::{CliError, ExitCode};

/// Where and how to reach the broker, the co-signer and the chain.
#[derive(Debug, Clone)]
pub struct Settings {
    pub home: PathBuf,
    pub nats_url: Option<String>,
    pub rpc_url: Option<String>,
    pub chain_id: u64,
    pub round_timeout: Duration,
}

impl Settings {
    /// `$MPC_HOME`, else the user's data dir.
    pub fn default_home() -> PathBuf {
        dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("mpc-wallet")
    }

    fn session_config(&self) -> SessionConfig {
        SessionConfig {
            round_timeout: self.round_timeout,
            ..SessionConfig::default()
        }
    }
}

/// The BIP32 path of child account `index` (`m/0/N`), or the master key.
pub fn account_path(index: Option<u32>) -> Result<DerivationPath, CliError> {
    let text = index.map_or_else(|| "m".to_owned(), |n| format!("m/0/{n}"));
    text.parse().map_err(|e: mpc_protocol::PathError| {
        CliError::new("invalid_index", ExitCode::Usage, e.to_string())
    })
}

/// The address of a share at `path`, derived locally.
pub fn derive_address(share: &ClientShare, path: &DerivationPath) -> Result<String, CliError> {
    Ok(Dkls23.derive_public_key(&share.share, path)?.address())
}

/// An EIP-191 personal message: 0x-hex is signed as the bytes it spells,
/// anything else as UTF-8 text.
pub fn personal_message(message: &str) -> SignPayload {
    let bytes = match message.strip_prefix("0x").map(hex::decode) {
        Some(Ok(bytes)) => bytes,
        _ => message.as_bytes().to_vec(),
    };
    SignPayload::PersonalMessage(mpc_evm::Bytes::from(bytes))
}

/// EIP-712 typed data, checked to hash before any session opens.
pub fn typed_data(value: serde_json::Value) -> Result<SignPayload, CliError> {
    let payload = SignPayload::TypedData(value);
    payload.digest()?;
    Ok(payload)
}

/// Fills nonce, fees and gas of `draft` from the node at the configured RPC,
/// for the account of `share` at `path`.
pub async fn prepare_tx(
    settings: &Settings,
    share: &ClientShare,
    draft: TxDraft,
    path: &DerivationPath,
) -> Result<TxRequest, CliError> {
    let rpc_url = settings.rpc_url.as_deref().ok_or_else(|| {
        CliError::new(
            "rpc_url_missing",
            ExitCode::Usage,
            "tx prepare reads nonce, fees and gas from a node: set MPC_RPC_URL or --rpc-url",
        )
    })?;
    let from = derive_address(share, path)?
        .parse()
        .expect("derived addresses parse");
    let rpc = EvmRpc::connect(rpc_url, settings.chain_id).await?;
    Ok(rpc
        .prepare(draft, from, &TxPolicy::new(settings.chain_id))
        .await?)
}

#[derive(Debug, Serialize)]
pub struct KeygenOutput {
    pub address: String,
    pub public_key: String,
    pub wallet_id: String,
    pub session_id: String,
    pub share: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct SignOutput {
    pub r: String,
    pub s: String,
    pub v: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_tx: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// `r ‖ s ‖ v`, for personal_sign and EIP-712 signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    pub from: String,
    pub path: String,
    pub session_id: String,
}

#[derive(Debug, Serialize)]
pub struct RotateOutput {
    pub address: String,
    pub wallet_id: String,
    pub share_version: u32,
    pub session_id: String,
}

#[derive(Debug, Serialize)]
pub struct HealthOutput {
    pub status: &'static str,
    pub cosigner_version: String,
    pub embedded: bool,
}

#[derive(Debug, Serialize)]
pub struct BroadcastOutput {
    pub tx_hash: String,
    pub status: String,
    pub block_number: Option<u64>,
    pub duplicate: bool,
}

/// A connection to the broker (and, by default, the embedded services).
pub struct Client {
    nats: mpc_session::Client,
    settings: Settings,
    embedded: Option<Embedded>,
}

impl Client {
    /// Connects to `MPC_NATS_URL`, or starts the embedded broker and co-signer.
    pub async fn connect(settings: &Settings) -> Result<Client, CliError> {
        let (url, embedded) = match &settings.nats_url {
            Some(url) => (url.clone(), None),
            None => {
                let embedded = Embedded::start(
                    &settings.home,
                    settings.rpc_url.as_deref(),
                    settings.chain_id,
                )?;
                (embedded.client_url().to_owned(), Some(embedded))
            }
        };
        let nats = mpc_session::connect(&url).await?;
        let mut client = Client {
            nats,
            settings: settings.clone(),
            embedded,
        };
        if client.embedded.is_some() {
            client.wait_for_embedded_cosigner().await?;
        }
        Ok(client)
    }

    pub fn nats(&self) -> &mpc_session::Client {
        &self.nats
    }

    fn request_timeout(&self) -> Duration {
        SessionConfig::default().request_timeout
    }

    /// Pushes out buffered messages. The last signing round is ours and
    /// unanswered: if `mpc` exits with it still buffered, the co-signer waits
    /// a full round timeout for it, holding the wallet busy.
    async fn flush(&self) {
        match tokio::time::timeout(self.request_timeout(), self.nats.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not flush the broker connection"),
            Err(_) => tracing::warn!("flushing the broker connection timed out"),
        }
    }

    /// The embedded co-signer needs a moment to subscribe after it starts.
    async fn wait_for_embedded_cosigner(&mut self) -> Result<(), CliError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(exited) = self.embedded.as_mut().and_then(Embedded::exited) {
                return Err(CliError::new(
                    "embedded_start_failed",
                    ExitCode::Unreachable,
                    exited,
                ));
            }
            match mpc_session::health(&self.nats, Duration::from_millis(500)).await {
                Ok(_) => return Ok(()),
                Err(error) if tokio::time::Instant::now() > deadline => {
                    return Err(CliError::from(error))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    pub async fn health(&self) -> Result<HealthOutput, CliError> {
        let health = mpc_session::health(&self.nats, self.request_timeout()).await?;
        if health.status != "ok" {
            return Err(CliError::new(
                "cosigner_unhealthy",
                ExitCode::Unreachable,
                format!("the co-signer reports status {:?}", health.status),
            ));
        }
        Ok(HealthOutput {
            status: "ok",
            cosigner_version: health.version,
            embedded: self.embedded.is_some(),
        })
    }

    /// Runs a distributed key generation with the co-signer and writes the
    /// client share to `out` only after the co-signer confirmed it stored its own.
    pub async fn keygen(
        &self,
        out: &Path,
        overwrite: Overwrite,
        key_source: KeySource,
    ) -> Result<KeygenOutput, CliError> {
        if overwrite == Overwrite::Refuse && out.exists() {
            return Err(mpc_store::StoreError::AlreadyExists { path: out.into() }.into());
        }
        // Trust on first use: the co-signer key is pinned in the new share.
        let cosigner_pub = mpc_session::hello(&self.nats, self.request_timeout()).await?;
        let wallet_id = uuid::Uuid::new_v4().to_string();
        let request = KeygenRequest {
            wallet_id: wallet_id.clone(),
            protocol: PROTOCOL.to_owned(),
        };
        let sessions = SessionClient::new(
            self.nats.clone(),
            Identity::generate()?,
            self.settings.session_config(),
        );
        let (mut channel, session) = open(&sessions, &cosigner_pub, &Op::KEYGEN, &request).await?;
        let context = SessionContext::new(session.as_str(), wallet_id.as_str());
        let share = Dkls23.keygen(Party::Client, &context, &mut channel).await?;
        recv_confirm(&mut channel, rounds::KEYGEN_SAVED, 0)
            .await
            .map_err(confirm_error)?;
        let output = KeygenOutput {
            address: share.address(),
            public_key: format!("0x{}", hex::encode(share.public_key().to_compressed())),
            wallet_id: wallet_id.clone(),
            session_id: session.to_string(),
            share: out.to_owned(),
        };
        let out = out.to_owned();
        blocking(move || {
            client_share::save_new(
                &out,
                &wallet_id,
                &share,
                sessions.identity(),
                &cosigner_pub,
                &key_source,
                overwrite,
            )
        })
        .await?;
        Ok(output)
    }

    /// Signs `payload` with the share file at `share_path` (see [`with_share`]);
    /// a transaction's chain is first checked against the RPC when one is set.
    pub async fn sign_share_file(
        &self,
        share_path: &Path,
        passphrase: Option<Passphrase>,
        payload: SignPayload,
        path: &DerivationPath,
    ) -> Result<SignOutput, CliError> {
        if let (SignPayload::Transaction(_), Some(rpc_url)) = (&payload, &self.settings.rpc_url) {
            // Checks the node's eth_chainId against the configured chain id.
            EvmRpc::connect(rpc_url, self.settings.chain_id).await?;
        }
        with_share(share_path, passphrase, |share| {
            let payload = payload.clone();
            async move { self.sign(&share, payload, path).await }
        })
        .await
    }

    /// Signs `payload` with the co-signer at `path`. The signature is checked
    /// to recover to the derived address before it is returned.
    pub async fn sign(
        &self,
        share: &ClientShare,
        payload: SignPayload,
        path: &DerivationPath,
    ) -> Result<SignOutput, CliError> {
        if let SignPayload::Transaction(tx) = &payload {
            tx.validate(&TxPolicy::new(self.settings.chain_id))?;
        }
        let digest = payload.digest()?;
        let from = derive_address(share, path)?;
        let request = SignRequest {
            wallet_id: share.wallet_id.clone(),
            share_version: share.version,
            path: path.to_string(),
            payload: payload.clone(),
        };
        let sessions = self.sessions(share)?;
        let (mut channel, session) =
            open(&sessions, &share.cosigner_pub, &Op::SIGN, &request).await?;
        let context = SessionContext::new(session.as_str(), share.wallet_id.as_str());
        let signed = Dkls23
            .sign(&share.share, path, digest, &context, &mut channel)
            .await;
        self.flush().await;
        let signature = lock_on_misbehaviour(share, signed).await?;

        let evm_signature = mpc_evm::Signature::new(
            mpc_evm::U256::from_be_bytes(signature.r),
            mpc_evm::U256::from_be_bytes(signature.s),
            signature.y_parity,
        );
        let from_address: mpc_evm::Address = from.parse().expect("derived addresses parse");
        mpc_evm::verify_signer(&digest, &evm_signature, from_address)?;
        let v = payload.v(signature.y_parity);
        let mut output = SignOutput {
            r: format!("0x{}", hex::encode(signature.r)),
            s: format!("0x{}", hex::encode(signature.s)),
            v: format!("{v:#x}"),
            raw_tx: None,
            tx_hash: None,
            signature: None,
            from,
            path: path.to_string(),
            session_id: session.to_string(),
        };
        match &payload {
            SignPayload::Transaction(tx) => {
                let signed = tx.assemble(&evm_signature)?;
                output.raw_tx = Some(signed.raw_tx.to_string());
                output.tx_hash = Some(signed.tx_hash.to_string());
            }
            SignPayload::PersonalMessage(_) | SignPayload::TypedData(_) => {
                let mut bytes = signature.to_bytes();
                bytes[64] = v as u8;
                output.signature = Some(format!("0x{}", hex::encode(bytes)));
            }
        }
        Ok(output)
    }

    /// Refreshes both shares; the address stays. The old client share is
    /// replaced only after both new shares produced a valid signature and the
    /// co-signer replaced its own.
    pub async fn rotate(
        &self,
        share: &ClientShare,
        passphrase: Option<&Passphrase>,
    ) -> Result<RotateOutput, CliError> {
        let request = RefreshRequest {
            wallet_id: share.wallet_id.clone(),
            share_version: share.version,
        };
        let sessions = self.sessions(share)?;
        let (mut channel, session) =
            open(&sessions, &share.cosigner_pub, &Op::REFRESH, &request).await?;
        let context = SessionContext::new(session.as_str(), share.wallet_id.as_str());
        let refreshed = Dkls23.refresh(&share.share, &context, &mut channel).await;
        let new_share = lock_on_misbehaviour(share, refreshed).await?;
        let new_version = share.version + 1;
        if let Err(error) =
            client_share::stage_refreshed(share, &new_share, new_version, passphrase)
        {
            channel
                .abort("the client could not stage its new share")
                .await;
            return Err(error);
        }
        let checked = async {
            send_confirm(&mut channel, rounds::REFRESH_STAGED, new_version)
                .await
                .map_err(confirm_error)?;
            recv_confirm(&mut channel, rounds::REFRESH_STAGED, new_version)
                .await
                .map_err(confirm_error)?;
            let check = SessionContext::new(
                session.as_str(),
                format!("{}/refresh-check", share.wallet_id),
            );
            Dkls23
                .sign(
                    &new_share,
                    &DerivationPath::master(),
                    refresh_check_digest(session.as_str()),
                    &check,
                    &mut channel,
                )
                .await?;
            Ok::<_, CliError>(())
        }
        .await;
        if let Err(error) = checked {
            // The co-signer has not promoted: the old pair stays in force.
            let _ = mpc_store::discard_next(&share.path);
            return Err(error);
        }
        // Without this confirmation the staged share stays beside the old one
        // and the next session settles which of the two the co-signer holds.
        recv_confirm(&mut channel, rounds::REFRESH_PROMOTED, new_version)
            .await
            .map_err(confirm_error)?;
        mpc_store::promote_next(&share.path)?;
        Ok(RotateOutput {
            address: new_share.address(),
            wallet_id: share.wallet_id.clone(),
            share_version: new_version,
            session_id: session.to_string(),
        })
    }

    /// Queues a signed raw transaction for the broadcaster; waits for its
    /// result unless `wait` is `None`.
    pub async fn broadcast(
        &self,
        raw: &[u8],
        wait: Option<Duration>,
    ) -> Result<BroadcastOutput, CliError> {
        let tx_hash = mpc_evm::decode_raw_tx(raw)?.tx_hash;
        // Subscribe first, so a fast result cannot slip past.
        let mut results = ResultSubscription::new(&self.nats, tx_hash).await?;
        let jetstream = async_nats::jetstream::new(self.nats.clone());
        let queued = broadcast::queue_raw_tx(&jetstream, raw).await?;
        let Some(wait) = wait else {
            return Ok(BroadcastOutput {
                tx_hash: tx_hash.to_string(),
                status: "queued".to_owned(),
                block_number: None,
                duplicate: queued.duplicate,
            });
        };
        let result = results.next(wait).await?;
        let status = match result.status {
            BroadcastStatus::Success => "success",
            BroadcastStatus::Reverted => "reverted",
            BroadcastStatus::Failed => {
                return Err(CliError::new(
                    "broadcast_failed",
                    ExitCode::Chain,
                    format!(
                        "transaction {tx_hash} was not sent: {}",
                        result.error.unwrap_or_default()
                    ),
                ))
            }
        };
        Ok(BroadcastOutput {
            tx_hash: tx_hash.to_string(),
            status: status.to_owned(),
            block_number: result.block_number,
            duplicate: queued.duplicate,
        })
    }

    fn sessions(&self, share: &ClientShare) -> Result<SessionClient, CliError> {
        let identity = Identity::from_bytes(&share.identity.to_bytes())?;
        Ok(SessionClient::new(
            self.nats.clone(),
            identity,
            self.settings.session_config(),
        ))
    }
}

/// Opens a session with `request` as the op's body.
async fn open<T: Serialize>(
    sessions: &SessionClient,
    cosigner_pub: &[u8; 32],
    op: &Op,
    request: &T,
) -> Result<(NatsPeerChannel, SessionId), CliError> {
    let body = encode(request);
    let mut attempt = 0;
    loop {
        // A fresh id each time: the co-signer never accepts an id twice.
        let session = SessionId::random();
        tracing::info!(session = %session, op = %op, attempt, "opening session");
        match sessions.open(cosigner_pub, op, &session, &body).await {
            Ok((channel, response)) => {
                let _accepted: Accepted =
                    decode("co-signer acceptance", &response).map_err(|e| {
                        CliError::new("session_error", ExitCode::Failure, e.to_string())
                    })?;
                return Ok((channel, session));
            }
            // The wallet's previous session may still be closing on the
            // co-signer's side for a few milliseconds: busy is worth a short wait.
            Err(mpc_session::SessionError::Rejected { rejection, .. })
                if rejection.code == codes::BUSY && attempt < BUSY_RETRIES =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// How often a busy co-signer is asked again (about 1.8 s in all).
const BUSY_RETRIES: u32 = 12;

/// A peer caught misbehaving locks the wallet here too: never retry with it.
async fn lock_on_misbehaviour<T>(
    share: &ClientShare,
    outcome: Result<T, ProtocolError>,
) -> Result<T, CliError> {
    let error = match outcome {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    if error.is_misbehaviour() {
        tracing::error!(wallet = %share.wallet_id, error = %error, "co-signer misbehaved: locking the wallet");
        let (path, evidence) = (share.path.clone(), error.to_string());
        blocking(move || {
            mpc_store::lock(
                &path,
                "the co-signer misbehaved in a protocol run",
                &evidence,
            )
            .map_err(CliError::from)
        })
        .await?;
    }
    Err(error.into())
}

fn confirm_error(error: mpc_cosigner_api::ConfirmError) -> CliError {
    CliError::new("session_failed", ExitCode::Unreachable, error.to_string())
}

/// Runs store work (files, keyring over D-Bus, Argon2id) off the async workers.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CliError> + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CliError::new("internal", ExitCode::Failure, e.to_string()))?
}

/// Loads the share at `path` and runs `operation` with it, settling an
/// interrupted refresh on the way: when the co-signer already holds the newer
/// share, the staged one is promoted and the operation retried once; when
/// the operation succeeds with the current share, a stale staged one goes.
pub async fn with_share<T, F, Fut>(
    path: &Path,
    passphrase: Option<Passphrase>,
    mut operation: F,
) -> Result<T, CliError>
where
    F: FnMut(ClientShare) -> Fut,
    Fut: Future<Output = Result<T, CliError>>,
{
    let share = load(path, passphrase.clone()).await?;
    match operation(share).await {
        Err(error) if error.code == "client_share_outdated" => {
            if mpc_store::pending_next(path)?.is_none() {
                return Err(error);
            }
            tracing::info!(share = %path.display(), "co-signer finished a refresh: promoting the staged share");
            mpc_store::promote_next(path)?;
            operation(load(path, passphrase).await?).await
        }
        Ok(value) => {
            mpc_store::discard_next(path)?;
            Ok(value)
        }
        Err(error) => Err(error),
    }
}

async fn load(path: &Path, passphrase: Option<Passphrase>) -> Result<ClientShare, CliError> {
    let path = path.to_owned();
    blocking(move || client_share::load(&path, passphrase.as_ref())).await
}

/// The stable CLI code of a co-signer rejection code.
pub(crate) fn rejection_code(code: &str) -> (&'static str, ExitCode) {
    match code {
        codes::WALLET_LOCKED => ("wallet_locked", ExitCode::Locked),
        codes::INVALID_PAYLOAD => ("rejected_by_cosigner", ExitCode::InvalidInput),
        codes::BUSY => ("cosigner_busy", ExitCode::Unreachable),
        codes::CLIENT_SHARE_OUTDATED => ("client_share_outdated", ExitCode::Share),
        codes::UNKNOWN_WALLET => ("unknown_wallet", ExitCode::Share),
        codes::WRONG_CLIENT => ("wrong_client", ExitCode::Share),
        codes::SHARE_VERSION_MISMATCH => ("share_version_mismatch", ExitCode::Share),
        _ => ("rejected_by_cosigner", ExitCode::Failure),
    }
}
