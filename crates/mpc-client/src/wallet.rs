//! A wallet: one client share, decrypted once, and the connection it signs
//! over. Every signature is made with the co-signer seeing the full payload,
//! and is verified against the wallet's key before it is returned.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use alloy::dyn_abi::TypedData;
use alloy::eips::eip7702::SignedAuthorization;
use mpc_api::{
    recv_confirm, refresh_check_digest, rounds, send_confirm, RefreshRequest, RejectionCode,
    SignRequest,
};
use mpc_evm::{
    Address, AuthorizationRequest, SignPayload, SignedTx, TxDraft, TxPolicy, TxRequest, U256,
};
use mpc_protocol::{
    DerivationPath, Dkls23, PeerChannel, ProtocolError, PublicKey, SessionContext, ThresholdSigner,
};
use mpc_session::{Identity, Op, SessionId};
use mpc_store::{Overwrite, Passphrase, ShareInfo};

use crate::connection::{blocking, open, Connection};
use crate::error::{Error, Result};
use crate::share::{self, ClientShare};

/// Which account of the wallet: the master key, or child `N` at the
/// non-hardened BIP32 path `m/0/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Account {
    /// The wallet's master key (path `m`).
    #[default]
    Master,
    /// Child account `N` (path `m/0/N`).
    Child(u32),
}

impl Account {
    /// The master key for `None`, child `N` for `Some(N)`.
    pub fn from_index(index: Option<u32>) -> Account {
        index.map_or(Account::Master, Account::Child)
    }

    /// The child index, `None` for the master key.
    pub fn index(self) -> Option<u32> {
        match self {
            Account::Master => None,
            Account::Child(n) => Some(n),
        }
    }

    /// The BIP32 path of the account.
    pub fn path(self) -> Result<DerivationPath> {
        match self {
            Account::Master => Ok(DerivationPath::master()),
            Account::Child(n) => Ok(format!("m/0/{n}").parse()?),
        }
    }
}

/// A signature made with the co-signer, verified against the account's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signature: low-s (EIP-2), with the y parity.
    pub signature: alloy::primitives::Signature,
    /// The `v` users see for this payload (EIP-155 v for legacy transactions,
    /// 27/28 for messages, the y parity otherwise).
    pub v: u64,
    /// The account that signed.
    pub from: Address,
    /// Its BIP32 path.
    pub path: DerivationPath,
    /// The signing session (for `mpc watch` and the logs).
    pub session_id: SessionId,
    /// For a transaction: the signed raw transaction and its hash.
    pub transaction: Option<SignedTx>,
    /// For an EIP-7702 authorization: the signed authorization, ready for a
    /// type-4 transaction's authorization list.
    pub authorization: Option<SignedAuthorization>,
}

impl Signed {
    /// `r ‖ s ‖ v` with `v` as users see it (for messages: 27 or 28).
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut bytes = self.signature.as_bytes();
        // `v` of a message or authorization signature is at most 28: one byte.
        bytes[64] = self.v as u8;
        bytes
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The address, unchanged.
    pub address: Address,
    /// The new share version on both sides.
    pub share_version: u32,
    /// The refresh session.
    pub session_id: SessionId,
}

/// A client share, opened: decrypted once, then used for every operation
/// without reading the file or running Argon2id again. Needs no broker:
/// addresses and backups are local.
pub struct Share {
    current: RwLock<Arc<ClientShare>>,
    passphrase: Option<Passphrase>,
    path: PathBuf,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("path", &self.path)
            .field("wallet_id", &self.current().wallet_id)
            .finish_non_exhaustive()
    }
}

impl Share {
    /// Opens the client share at `path`; `passphrase` when its header says it
    /// is passphrase-protected (see [`mpc_store::read_info`]).
    pub async fn open(path: &Path, passphrase: Option<Passphrase>) -> Result<Share> {
        let client_share = load(path, passphrase.clone()).await?;
        Ok(Share::from_loaded(client_share, passphrase))
    }

    pub(crate) fn from_loaded(client_share: ClientShare, passphrase: Option<Passphrase>) -> Share {
        Share {
            path: client_share.path.clone(),
            current: RwLock::new(Arc::new(client_share)),
            passphrase,
        }
    }

    fn current(&self) -> Arc<ClientShare> {
        // Only a panic while swapping the Arc poisons the lock; the Arc is whole.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads the file again (after a rotation promoted a new share).
    async fn reload(&self) -> Result<()> {
        self.replace(load(&self.path, self.passphrase.clone()).await?);
        Ok(())
    }

    /// Uses `client_share` from now on (it is what the file holds).
    fn replace(&self, client_share: ClientShare) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(client_share);
    }

    /// The share file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The wallet's id, shared with the co-signer.
    pub fn wallet_id(&self) -> String {
        self.current().wallet_id.clone()
    }

    /// The share version (incremented by every rotation).
    pub fn share_version(&self) -> u32 {
        self.current().version
    }

    /// The public key of `account`, derived locally.
    pub fn public_key(&self, account: Account) -> Result<PublicKey> {
        Ok(Dkls23.derive_public_key(&self.current().share, &account.path()?)?)
    }

    /// The address of `account`, derived locally (no network).
    pub fn address(&self, account: Account) -> Result<Address> {
        Ok(address_of(&self.public_key(account)?))
    }

    /// Writes a portable backup of the share, encrypted under
    /// `backup_passphrase` (independent of the share's own key source).
    pub async fn backup_export(
        &self,
        out: &Path,
        backup_passphrase: Passphrase,
        overwrite: Overwrite,
    ) -> Result<ShareInfo> {
        let (from, to, passphrase) = (self.path.clone(), out.to_owned(), self.passphrase.clone());
        blocking(move || {
            Ok(mpc_store::export_backup(
                &from,
                &to,
                passphrase.as_ref(),
                &backup_passphrase,
                overwrite,
            )?)
        })
        .await
    }
}

/// One wallet: an opened [`Share`] and the connection it signs over. Cheap to
/// share between tasks (`Arc<Wallet>`): signing takes `&self`.
#[derive(Debug)]
pub struct Wallet {
    connection: Connection,
    share: Share,
}

impl Wallet {
    /// The wallet of `share`, signing over `connection`.
    pub fn new(connection: Connection, share: Share) -> Wallet {
        Wallet { connection, share }
    }

    /// The connection this wallet signs over.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The opened share.
    pub fn share(&self) -> &Share {
        &self.share
    }

    /// The address of `account`, derived locally (no network).
    pub fn address(&self, account: Account) -> Result<Address> {
        self.share.address(account)
    }

    /// Writes a portable backup of the share (see [`Share::backup_export`]).
    pub async fn backup_export(
        &self,
        out: &Path,
        backup_passphrase: Passphrase,
        overwrite: Overwrite,
    ) -> Result<ShareInfo> {
        self.share
            .backup_export(out, backup_passphrase, overwrite)
            .await
    }

    /// Fills what `draft` leaves open (nonce from the pending count, EIP-1559
    /// fees, gas estimate) from the node, for `account`.
    pub async fn prepare_transaction(&self, draft: TxDraft, account: Account) -> Result<TxRequest> {
        let from = self.address(account)?;
        let rpc = self.connection.rpc("preparing a transaction").await?;
        Ok(rpc
            .prepare(draft, from, &TxPolicy::new(self.connection.chain_id()))
            .await?)
    }

    /// Signs a complete transaction; the result carries the raw transaction.
    pub async fn sign_transaction(&self, tx: &TxRequest, account: Account) -> Result<Signed> {
        self.sign(SignPayload::Transaction(tx.clone()), account)
            .await
    }

    /// Signs an EIP-191 personal message (`personal_sign`).
    pub async fn sign_message(&self, message: &[u8], account: Account) -> Result<Signed> {
        self.sign(
            SignPayload::PersonalMessage(message.to_vec().into()),
            account,
        )
        .await
    }

    /// Signs an EIP-7702 authorization on its own: the co-signer sees chain
    /// id, delegate and nonce.
    pub async fn sign_authorization(
        &self,
        authorization: AuthorizationRequest,
        account: Account,
    ) -> Result<Signed> {
        self.sign(SignPayload::Authorization(authorization), account)
            .await
    }

    /// Signs EIP-712 typed data; the co-signer sees the whole document.
    pub async fn sign_typed_data(
        &self,
        typed_data: &TypedData,
        account: Account,
    ) -> Result<Signed> {
        let document = serde_json::to_value(typed_data)
            .map_err(|e| Error::Internal(format!("typed data to JSON: {e}")))?;
        self.sign(typed_data_payload(document)?, account).await
    }

    /// Signs `payload` with the co-signer as `account`. A transaction is
    /// validated against the connection's chain first; the signature is
    /// checked to recover to the account's address before it is returned.
    pub async fn sign(&self, payload: SignPayload, account: Account) -> Result<Signed> {
        let path = account.path()?;
        payload.validate(&TxPolicy::new(self.connection.chain_id()))?;
        let digest = payload.digest()?;
        let deadline = tokio::time::Instant::now() + self.connection.retry_for();
        let mut pause = FIRST_RETRY_PAUSE;
        loop {
            let signed = self
                .settling(|share| {
                    let (payload, path) = (payload.clone(), path.clone());
                    async move { self.sign_with(&share, payload, path, digest).await }
                })
                .await;
            match signed {
                // A fresh session signs anew: nothing of the failed one is reused.
                Err(error)
                    if error.is_transient() && tokio::time::Instant::now() + pause < deadline =>
                {
                    tracing::warn!(code = error.code(), error = %error, "signing failed transiently; retrying with a fresh session");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                }
                result => return result,
            }
        }
    }

    async fn sign_with(
        &self,
        share: &ClientShare,
        payload: SignPayload,
        path: DerivationPath,
        digest: [u8; 32],
    ) -> Result<Signed> {
        let from = address_of(&Dkls23.derive_public_key(&share.share, &path)?);
        let request = SignRequest {
            wallet_id: share.wallet_id.clone(),
            share_version: share.version,
            path: path.to_string(),
            payload: payload.clone(),
        };
        let sessions = self.sessions(share)?;
        let (mut channel, session, _) =
            open(&sessions, &share.cosigner_pub, &Op::Sign, &request).await?;
        let context = SessionContext::new(session.as_str(), share.wallet_id.as_str());
        let signed = Dkls23
            .sign(&share.share, &path, digest, &context, &mut channel)
            .await;
        self.connection.flush().await;
        let signature = lock_on_misbehaviour(share, signed).await?;
        let signature = alloy::primitives::Signature::new(
            U256::from_be_bytes(signature.r),
            U256::from_be_bytes(signature.s),
            signature.y_parity,
        );
        mpc_evm::verify_signer(&digest, &signature, from)?;
        let transaction = payload
            .transaction()
            .map(|tx| tx.assemble(&signature))
            .transpose()?;
        let authorization = match &payload {
            SignPayload::Authorization(request) => Some(request.assemble(&signature)?),
            _ => None,
        };
        Ok(Signed {
            v: payload.v(signature.v()),
            signature,
            from,
            path,
            session_id: session,
            transaction,
            authorization,
        })
    }

    /// Refreshes both shares with the co-signer; the address stays. The old
    /// client share is replaced only after both new shares produced a valid
    /// signature and the co-signer replaced its own.
    pub async fn rotate(&self) -> Result<Rotated> {
        let (rotated, promoted) = self
            .settling(|share| async move { self.rotate_with(&share).await })
            .await?;
        // The promoted share is in memory already: no need to read and
        // decrypt (Argon2id) the file just written.
        self.share.replace(promoted);
        Ok(rotated)
    }

    /// One refresh; returns what it did and the new client share, which the
    /// share file holds once this returns.
    async fn rotate_with(&self, share: &ClientShare) -> Result<(Rotated, ClientShare)> {
        let request = RefreshRequest {
            wallet_id: share.wallet_id.clone(),
            share_version: share.version,
        };
        let sessions = self.sessions(share)?;
        let (mut channel, session, _) =
            open(&sessions, &share.cosigner_pub, &Op::Refresh, &request).await?;
        let context = SessionContext::new(session.as_str(), share.wallet_id.as_str());
        let refreshed = Dkls23.refresh(&share.share, &context, &mut channel).await;
        let new_share = lock_on_misbehaviour(share, refreshed).await?;
        let new_version = share.version + 1;
        if let Err(error) = share::stage_refreshed(
            share,
            &new_share,
            new_version,
            self.share.passphrase.as_ref(),
        ) {
            channel
                .abort("the client could not stage its new share")
                .await;
            return Err(error);
        }
        // From here the staged share stays until a later session settles which
        // pair the co-signer holds: once it has our confirmation it promotes
        // its own as soon as the check signature completes on its side, and a
        // check that failed here may still have sent what completes it there.
        // Dropping ours then would leave no working pair.
        let checked = async {
            send_confirm(&mut channel, rounds::REFRESH_STAGED, new_version).await?;
            recv_confirm(&mut channel, rounds::REFRESH_STAGED, new_version).await?;
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
            Ok::<_, Error>(())
        }
        .await;
        checked?;
        // Without this confirmation the staged share stays beside the old one
        // and the next session settles which of the two the co-signer holds.
        recv_confirm(&mut channel, rounds::REFRESH_PROMOTED, new_version).await?;
        self.promote(&share.path).await?;
        let rotated = Rotated {
            address: address_of(&new_share.public_key()),
            share_version: new_version,
            session_id: session,
        };
        Ok((rotated, share.refreshed(new_share, new_version)?))
    }

    /// Runs `operation` with the current share, settling an interrupted
    /// refresh on the way: when the co-signer says, inside the authenticated
    /// session, that it already holds the newer share, the staged one is
    /// promoted and the operation retried once; when the operation succeeds
    /// with the current share, a stale staged one goes. An unauthenticated
    /// refusal never changes a file.
    async fn settling<T, F, Fut>(&self, mut operation: F) -> Result<T>
    where
        F: FnMut(Arc<ClientShare>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let path = self.share.path();
        match operation(self.share.current()).await {
            Err(error) if error.is_authenticated_refusal(RejectionCode::ClientShareOutdated) => {
                if mpc_store::pending_next(path)?.is_none() {
                    return Err(error);
                }
                tracing::info!(share = %path.display(), "co-signer finished a refresh: promoting the staged share");
                self.promote(path).await?;
                self.share.reload().await?;
                operation(self.share.current()).await
            }
            Ok(value) => {
                mpc_store::discard_next(path)?;
                Ok(value)
            }
            Err(error) => Err(error),
        }
    }

    /// Makes the staged share current once it decrypts (see
    /// [`mpc_store::promote_next`]).
    async fn promote(&self, path: &Path) -> Result<()> {
        let (path, passphrase) = (path.to_owned(), self.share.passphrase.clone());
        blocking(move || Ok(mpc_store::promote_next(&path, passphrase.as_ref()).map(drop)?)).await
    }

    fn sessions(&self, share: &ClientShare) -> Result<crate::connection::Sessions> {
        let identity = Identity::from_bytes(&share.identity.to_bytes())?;
        Ok(self.connection.sessions(identity))
    }
}

/// EIP-712 typed data as the co-signer receives it, checked to hash before
/// any session opens.
pub fn typed_data_payload(document: serde_json::Value) -> Result<SignPayload> {
    let payload = SignPayload::TypedData(document);
    payload.digest()?;
    Ok(payload)
}

/// The address of a public key: the last 20 bytes of keccak256 of `x ‖ y`.
pub(crate) fn address_of(public_key: &PublicKey) -> Address {
    Address::from_raw_public_key(&public_key.to_uncompressed()[1..])
}

async fn load(path: &Path, passphrase: Option<Passphrase>) -> Result<ClientShare> {
    let path = path.to_owned();
    blocking(move || share::load(&path, passphrase.as_ref())).await
}

/// The first and the longest pause between two signing attempts
/// ([`ConnectionBuilder::retry_transient`](crate::ConnectionBuilder::retry_transient)).
const FIRST_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
const MAX_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// A peer caught misbehaving locks the wallet here too: never retry with it.
async fn lock_on_misbehaviour<T>(
    share: &ClientShare,
    outcome: std::result::Result<T, ProtocolError>,
) -> Result<T> {
    let error = match outcome {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    if error.is_misbehaviour() {
        tracing::error!(wallet = %share.wallet_id, error = %error, "co-signer misbehaved: locking the wallet");
        let (path, evidence) = (share.path.clone(), error.to_string());
        blocking(move || {
            Ok(mpc_store::lock(
                &path,
                "the co-signer misbehaved in a protocol run",
                &evidence,
            )?)
        })
        .await?;
    }
    Err(error.into())
}
