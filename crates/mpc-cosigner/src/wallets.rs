//! The co-signer's wallets: one encrypted share per wallet, the client
//! identity pinned in its authenticated header, a lock after misbehaviour, a
//! staged share during a refresh, and an unconfirmed mark from keygen until
//! the client proves it kept its own share (an interrupted keygen must not
//! leave a wallet here for ever).
//!
//! Two stores: files in one data dir (`<id>.enc`, `.lock`, `.next`,
//! `.unconfirmed` beside it), or the fleet's JetStream KV record per wallet
//! ([`crate::fleet`]), where a session also holds the wallet's lease.
//! Decrypted shares are cached in memory (zeroized on drop), keyed by the
//! file's stamp or the record's revision, so signing does not pay Argon2id
//! or a keyring round trip each time; the store stays the authority.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use mpc_api::{RejectionCode, PROTOCOL};
use mpc_protocol::KeyShare;
use mpc_session::{unix_now, Rejection};
use mpc_store::{
    pairing, Expect, FileStamp, FileStore, KeyShareStore, KeySource, LockRecord, Overwrite,
    Passphrase, SealedShare, ShareInfo, ShareParty, StoreError,
};

use crate::fleet::lease::Lease;
use crate::fleet::record::WalletRecord;
use crate::fleet::records::Records;
use crate::fleet::{Fleet, FleetError, WALLETS_BUCKET};

/// A wallet as the co-signer uses it.
pub struct Wallet {
    pub share: KeyShare,
    pub version: u32,
    pub client_pub: [u8; 32],
    /// Where the share was read: the fence of the session's writes.
    pub stamp: Stamp,
}

/// Which version of the stored wallet a cached share came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    File(FileStamp),
    /// The fleet record's KV revision.
    Revision(u64),
}

struct Cached {
    wallet: Arc<Wallet>,
    /// The record had an unconfirmed mark or a staged share (fleet only;
    /// files are asked with two `stat`s).
    settle: bool,
}

/// Why storing or changing a wallet failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fleet(#[from] FleetError),
}

enum Backend {
    Files(FileStore),
    Fleet {
        records: Records,
        /// This replica's name in the leases it holds.
        replica: String,
    },
}

pub struct Wallets {
    backend: Backend,
    key_source: KeySource,
    cache: Mutex<HashMap<String, Cached>>,
    busy: Arc<Mutex<HashSet<String>>>,
}

/// Marks a wallet as in a session (and, in a fleet, holds its lease);
/// released on drop.
pub struct Claim {
    wallet_id: String,
    busy: Arc<Mutex<HashSet<String>>>,
    _lease: Option<Lease>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.busy.lock().expect("busy set").remove(&self.wallet_id);
    }
}

/// Runs fleet storage work from a storage task (`spawn_blocking`), where
/// waiting on the runtime is allowed.
fn wait<F: Future>(work: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(work)
}

impl Wallets {
    /// One share file per wallet in `dir`.
    pub fn open(dir: PathBuf, key_source: KeySource) -> Result<Wallets, StoreError> {
        Ok(Self::with_backend(
            Backend::Files(FileStore::open(dir, ShareParty::Cosigner)?),
            key_source,
        ))
    }

    /// The fleet's wallets bucket; `replica` names this process in leases.
    pub fn fleet(fleet: Fleet, key_source: KeySource, replica: String) -> Wallets {
        let backend = Backend::Fleet {
            records: Records::new(fleet),
            replica,
        };
        Self::with_backend(backend, key_source)
    }

    fn with_backend(backend: Backend, key_source: KeySource) -> Wallets {
        Wallets {
            backend,
            key_source,
            cache: Mutex::default(),
            busy: Arc::default(),
        }
    }

    /// One session per wallet at a time, across the fleet: a second one is
    /// refused as busy.
    pub async fn claim(&self, wallet_id: &str) -> Result<Claim, Rejection> {
        let busy = || {
            Rejection::new(
                RejectionCode::Busy.as_str(),
                format!("another session on wallet {wallet_id} is running; retry shortly"),
            )
        };
        if !self
            .busy
            .lock()
            .expect("busy set")
            .insert(wallet_id.to_owned())
        {
            return Err(busy());
        }
        let mut claim = Claim {
            wallet_id: wallet_id.to_owned(),
            busy: Arc::clone(&self.busy),
            _lease: None,
        };
        if let Backend::Fleet { records, replica } = &self.backend {
            let fleet = records.fleet();
            match Lease::acquire(&fleet.leases, fleet.lease_ttl, wallet_id, replica).await {
                Ok(Some(lease)) => claim._lease = Some(lease),
                Ok(None) => return Err(busy()),
                Err(error) => return Err(fleet_refusal(error)),
            }
        }
        Ok(claim)
    }

    /// Drops cached shares as soon as their record changes anywhere in the
    /// fleet (a rotation or a lock by another replica); a session still reads
    /// the record's revision under its lease, this only frees stale shares
    /// early. Returns `Ok` at once for files; otherwise runs until the watch
    /// fails.
    pub async fn follow_changes(&self) -> Result<(), FleetError> {
        let Backend::Fleet { records, .. } = &self.backend else {
            return Ok(());
        };
        let failed = |e: String| FleetError::jetstream("watch the wallets bucket")(e);
        let mut changes = records
            .bucket()
            .watch_all()
            .await
            .map_err(|e| failed(e.to_string()))?;
        while let Some(change) = changes.next().await {
            let change = change.map_err(|e| failed(e.to_string()))?;
            let mut cache = self.cache.lock().expect("cache");
            if cache
                .get(&change.key)
                .is_some_and(|cached| cached.wallet.stamp != Stamp::Revision(change.revision))
            {
                cache.remove(&change.key);
            }
        }
        Err(failed("the watch ended".to_owned()))
    }

    fn passphrase(&self) -> Option<&Passphrase> {
        match &self.key_source {
            KeySource::Passphrase(passphrase) => Some(passphrase),
            KeySource::Keyring(_) => None,
        }
    }

    #[cfg(test)]
    fn files(&self) -> Option<&FileStore> {
        match &self.backend {
            Backend::Files(store) => Some(store),
            Backend::Fleet { .. } => None,
        }
    }

    fn path(store: &FileStore, wallet_id: &str) -> Result<PathBuf, Rejection> {
        store.share_path(wallet_id).map_err(bad_request)
    }

    /// The wallet for a session of `client`: refused when unknown, locked or
    /// paired with another client. Blocking.
    pub fn load(&self, wallet_id: &str, client: &[u8; 32]) -> Result<Arc<Wallet>, Rejection> {
        match &self.backend {
            Backend::Files(store) => self.load_file(store, wallet_id, client),
            Backend::Fleet { records, .. } => self.load_record(records, wallet_id, client),
        }
    }

    fn load_file(
        &self,
        store: &FileStore,
        wallet_id: &str,
        client: &[u8; 32],
    ) -> Result<Arc<Wallet>, Rejection> {
        let path = Self::path(store, wallet_id)?;
        // Checked on every use, so an operator's lock takes effect at once.
        if let Some(record) = mpc_store::lock_status(&path).map_err(internal)? {
            return Err(locked(wallet_id, &record));
        }
        // A cached share is used only while its file is the one it came from.
        let stamp = match FileStamp::of(&path) {
            Ok(stamp) => Stamp::File(stamp),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.cache.lock().expect("cache").remove(wallet_id);
                return Err(unknown(wallet_id));
            }
            Err(e) => return Err(internal(e)),
        };
        if let Some(wallet) = self.cached(wallet_id, stamp, client)? {
            return Ok(wallet);
        }
        // The header's pin is read first, so another client's request costs
        // no decryption (Argon2id); the decryption then authenticates it.
        let info = match mpc_store::read_info(&path) {
            Ok(info) => info,
            Err(StoreError::NotFound { .. }) => return Err(unknown(wallet_id)),
            Err(e) => return Err(internal(e)),
        };
        check_pin(wallet_id, &info, client)?;
        let loaded = match store.load_unlocked(wallet_id, self.passphrase()) {
            Ok(loaded) => loaded,
            Err(StoreError::NotFound { .. }) => return Err(unknown(wallet_id)),
            Err(e) => return Err(internal(e)),
        };
        self.remember(wallet_id, loaded, stamp, false, client)
    }

    /// Reads the record from the stream leader (under the session's lease),
    /// so no replica signs with a share another rotated away.
    fn load_record(
        &self,
        records: &Records,
        wallet_id: &str,
        client: &[u8; 32],
    ) -> Result<Arc<Wallet>, Rejection> {
        let Some((record, revision)) = wait(records.read(wallet_id)).map_err(fleet_refusal)? else {
            self.cache.lock().expect("cache").remove(wallet_id);
            return Err(unknown(wallet_id));
        };
        if let Some(lock) = &record.lock {
            return Err(locked(wallet_id, lock));
        }
        let stamp = Stamp::Revision(revision);
        if let Some(wallet) = self.cached(wallet_id, stamp, client)? {
            return Ok(wallet);
        }
        let sealed = sealed(wallet_id, record.current.to_vec());
        check_pin(wallet_id, &sealed.info().map_err(internal)?, client)?;
        let expect = Expect::party(ShareParty::Cosigner).wallet(wallet_id);
        let loaded = sealed.open(expect, self.passphrase()).map_err(internal)?;
        self.remember(wallet_id, loaded, stamp, record.needs_settling(), client)
    }

    /// The cached wallet when it came from `stamp`.
    fn cached(
        &self,
        wallet_id: &str,
        stamp: Stamp,
        client: &[u8; 32],
    ) -> Result<Option<Arc<Wallet>>, Rejection> {
        let cache = self.cache.lock().expect("cache");
        match cache.get(wallet_id) {
            Some(cached) if cached.wallet.stamp == stamp => {
                if &cached.wallet.client_pub != client {
                    return Err(wrong_client(wallet_id));
                }
                Ok(Some(Arc::clone(&cached.wallet)))
            }
            _ => Ok(None),
        }
    }

    /// Decodes a decrypted share and caches it under `stamp`.
    fn remember(
        &self,
        wallet_id: &str,
        loaded: mpc_store::LoadedShare,
        stamp: Stamp,
        settle: bool,
        client: &[u8; 32],
    ) -> Result<Arc<Wallet>, Rejection> {
        let share = KeyShare::from_cbor(&loaded.plaintext).map_err(internal)?;
        let client_pub = pairing::pinned_peer(&loaded.info)
            .ok_or_else(|| internal(format!("wallet {wallet_id} has no pinned client identity")))?;
        if &client_pub != client {
            return Err(wrong_client(wallet_id));
        }
        let wallet = Arc::new(Wallet {
            share,
            version: loaded.info.share_version,
            client_pub,
            stamp,
        });
        let cached = Cached {
            wallet: Arc::clone(&wallet),
            settle,
        };
        self.cache
            .lock()
            .expect("cache")
            .insert(wallet_id.to_owned(), cached);
        Ok(wallet)
    }

    /// Refuses keygen for a wallet id that is already taken. Blocking.
    pub fn ensure_new(&self, wallet_id: &str) -> Result<(), Rejection> {
        let taken = match &self.backend {
            Backend::Files(store) => store.exists(wallet_id).map_err(bad_request)?,
            Backend::Fleet { records, .. } => wait(records.read(wallet_id))
                .map_err(fleet_refusal)?
                .is_some(),
        };
        if taken {
            return Err(Rejection::new(
                RejectionCode::WalletExists.as_str(),
                format!("the co-signer already has a wallet {wallet_id}"),
            ));
        }
        Ok(())
    }

    /// Stores a new wallet's share, pinning the client identity, marked
    /// unconfirmed until the client shows it kept its own share; an id taken
    /// meanwhile (by another replica) is refused. Blocking.
    pub fn create(
        &self,
        wallet_id: &str,
        client_pub: &[u8; 32],
        share: &KeyShare,
    ) -> Result<(), WalletsError> {
        let meta = pairing::new_share_meta(
            wallet_id,
            ShareParty::Cosigner,
            &share.public_key().to_compressed(),
            PROTOCOL,
            client_pub,
        );
        match &self.backend {
            Backend::Files(store) => {
                // The marker goes first: a crash between the two leaves a marker
                // alone, which the sweep removes, never an unmarked orphan.
                let path = store.share_path(wallet_id)?;
                mpc_store::write_private(&unconfirmed_marker(&path), b"")?;
                store.save(&meta, &share.to_cbor(), &self.key_source, Overwrite::Refuse)?;
            }
            Backend::Fleet { records, .. } => {
                let (sealed, _) = SealedShare::seal(
                    record_name(wallet_id),
                    &meta,
                    &share.to_cbor(),
                    &self.key_source,
                )?;
                let record = WalletRecord {
                    current: sealed.as_bytes().to_vec().into(),
                    staged: None,
                    unconfirmed_since: Some(unix_now()),
                    lock: None,
                };
                wait(records.create(wallet_id, &record))?;
            }
        }
        Ok(())
    }

    /// The client kept its share (it said so, or it authenticated a later
    /// session as the wallet's pinned client): the wallet stays. Blocking.
    pub fn confirm(&self, wallet_id: &str) -> Result<(), WalletsError> {
        let confirmed = match &self.backend {
            Backend::Files(store) => {
                let marker = unconfirmed_marker(&store.share_path(wallet_id)?);
                match std::fs::remove_file(&marker) {
                    Ok(()) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(source) => {
                        return Err(StoreError::Io {
                            action: "remove the unconfirmed marker",
                            path: marker,
                            source,
                        }
                        .into())
                    }
                }
            }
            Backend::Fleet { records, .. } => wait(records.modify(wallet_id, |record| {
                record.unconfirmed_since.take().is_some()
            }))?,
        };
        if confirmed {
            tracing::info!(wallet = %wallet_id, "new wallet confirmed by its client");
        }
        Ok(())
    }

    /// Whether the wallet has an unconfirmed keygen or a staged share for
    /// [`confirm`](Self::confirm) and [`discard_staged`](Self::discard_staged)
    /// to settle: two `stat`s for files, what the last load read for the
    /// fleet, so the common case costs no blocking task.
    pub fn needs_settling(&self, wallet_id: &str) -> bool {
        match &self.backend {
            Backend::Files(store) => store.share_path(wallet_id).is_ok_and(|path| {
                unconfirmed_marker(&path).exists() || mpc_store::next_path(&path).exists()
            }),
            Backend::Fleet { .. } => self
                .cache
                .lock()
                .expect("cache")
                .get(wallet_id)
                .is_none_or(|cached| cached.settle),
        }
    }

    /// Removes a wallet whose keygen the client abandoned, if it is still
    /// unconfirmed; a confirmed wallet is never touched. Blocking.
    pub fn discard_unconfirmed(&self, wallet_id: &str) -> Result<bool, WalletsError> {
        self.cache.lock().expect("cache").remove(wallet_id);
        match &self.backend {
            Backend::Files(store) => Ok(discard_if_unconfirmed(&store.share_path(wallet_id)?)?),
            Backend::Fleet { records, .. } => {
                wait(discard_record_if(records, wallet_id, |since| {
                    since.is_some()
                }))
            }
        }
    }

    /// Removes every wallet left unconfirmed for longer than `ttl` (an
    /// interrupted keygen); returns how many. Blocking.
    pub fn sweep_unconfirmed(&self, ttl: Duration) -> Result<usize, WalletsError> {
        match &self.backend {
            Backend::Files(store) => Ok(sweep_files(store.dir(), ttl)?),
            Backend::Fleet { records, .. } => wait(async {
                let cutoff = unix_now().saturating_sub(ttl.as_secs());
                let mut removed = 0;
                for wallet_id in records.ids().await? {
                    let expired = |since: Option<u64>| since.is_some_and(|at| at <= cutoff);
                    if discard_record_if(records, &wallet_id, expired).await? {
                        tracing::warn!(wallet = %wallet_id, "removed a wallet whose keygen was never confirmed");
                        removed += 1;
                    }
                }
                Ok(removed)
            }),
        }
    }

    /// Locks a wallet after the client was caught misbehaving: in a fleet,
    /// for every replica. Blocking.
    pub fn lock(&self, wallet_id: &str, evidence: &str) -> Result<(), WalletsError> {
        const REASON: &str = "the client misbehaved in a protocol run";
        match &self.backend {
            Backend::Files(store) => {
                mpc_store::lock(&store.share_path(wallet_id)?, REASON, evidence)?;
            }
            Backend::Fleet { records, .. } => {
                let lock = LockRecord {
                    reason: REASON.to_owned(),
                    evidence: evidence.to_owned(),
                    locked_at: unix_now(),
                };
                wait(records.modify(wallet_id, |record| {
                    record.lock = Some(lock.clone());
                    true
                }))?;
            }
        }
        self.cache.lock().expect("cache").remove(wallet_id);
        Ok(())
    }

    /// Writes a refreshed share beside the current one of `wallet`, which
    /// must still be the stored one; returns the stamp to promote at. Blocking.
    pub fn stage(
        &self,
        wallet_id: &str,
        wallet: &Wallet,
        share: &KeyShare,
        version: u32,
    ) -> Result<Stamp, WalletsError> {
        match &self.backend {
            Backend::Files(store) => {
                let path = store.share_path(wallet_id)?;
                mpc_store::stage_next(&path, &share.to_cbor(), version, self.passphrase())?;
                Ok(wallet.stamp)
            }
            Backend::Fleet { records, .. } => wait(async {
                let (mut record, revision) = self.read_at(records, wallet_id, wallet.stamp).await?;
                let current = sealed(wallet_id, record.current.to_vec());
                let staged = current.restage(&share.to_cbor(), version, self.passphrase())?;
                record.staged = Some(staged.as_bytes().to_vec().into());
                Ok(Stamp::Revision(
                    records.update(wallet_id, &record, revision).await?,
                ))
            }),
        }
    }

    /// Makes the staged share current; in a fleet only if the record is still
    /// the one `staged_at` names (compare-and-set: of two replicas, one
    /// promotes). Blocking.
    pub fn promote(&self, wallet_id: &str, staged_at: Stamp) -> Result<(), WalletsError> {
        match &self.backend {
            Backend::Files(store) => {
                let path = store.share_path(wallet_id)?;
                mpc_store::promote_next(&path, self.passphrase())?;
            }
            Backend::Fleet { records, .. } => wait(async {
                let (mut record, revision) = self.read_at(records, wallet_id, staged_at).await?;
                let staged = record
                    .staged
                    .take()
                    .ok_or_else(|| StoreError::NoStagedShare {
                        path: record_name(wallet_id),
                    })?;
                let current = sealed(wallet_id, record.current.to_vec()).info()?;
                let expect = Expect::party(ShareParty::Cosigner).wallet(wallet_id);
                // Opened before it replaces anything: a damaged share never does.
                let next = sealed(wallet_id, staged.to_vec()).open(expect, self.passphrase())?;
                check_promotable(wallet_id, &current, &next.info)?;
                record.current = staged;
                records.update(wallet_id, &record, revision).await?;
                Ok::<_, WalletsError>(())
            })?,
        }
        self.cache.lock().expect("cache").remove(wallet_id);
        Ok(())
    }

    /// Drops a staged share the client never confirmed. Blocking.
    pub fn discard_staged(&self, wallet_id: &str) -> Result<bool, WalletsError> {
        match &self.backend {
            Backend::Files(store) => Ok(mpc_store::discard_next(&store.share_path(wallet_id)?)?),
            Backend::Fleet { records, .. } => {
                Ok(wait(records.modify(wallet_id, |record| {
                    record.staged.take().is_some()
                }))?)
            }
        }
    }

    /// The record, provided it is still at `stamp`'s revision.
    async fn read_at(
        &self,
        records: &Records,
        wallet_id: &str,
        stamp: Stamp,
    ) -> Result<(WalletRecord, u64), WalletsError> {
        let conflict = || FleetError::Conflict {
            wallet_id: wallet_id.to_owned(),
        };
        match records.read(wallet_id).await? {
            Some((record, revision)) if stamp == Stamp::Revision(revision) => {
                Ok((record, revision))
            }
            _ => Err(conflict().into()),
        }
    }
}

/// Removes the wallet when its unconfirmed mark satisfies `discard`.
async fn discard_record_if(
    records: &Records,
    wallet_id: &str,
    discard: impl Fn(Option<u64>) -> bool,
) -> Result<bool, WalletsError> {
    match records.read(wallet_id).await? {
        Some((record, revision)) if discard(record.unconfirmed_since) => {
            records.delete(wallet_id, revision).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// How a fleet record's share is named in errors.
fn record_name(wallet_id: &str) -> PathBuf {
    PathBuf::from(format!("{WALLETS_BUCKET}/{wallet_id}"))
}

fn sealed(wallet_id: &str, bytes: Vec<u8>) -> SealedShare {
    SealedShare::from_bytes(record_name(wallet_id), bytes)
}

/// A staged share may replace `current` only as a newer version of the same key.
fn check_promotable(
    wallet_id: &str,
    current: &ShareInfo,
    staged: &ShareInfo,
) -> Result<(), StoreError> {
    let mismatch = |detail: String| StoreError::StagedMismatch {
        path: record_name(wallet_id),
        detail,
    };
    if (&staged.wallet_id, staged.party, &staged.public_key)
        != (&current.wallet_id, current.party, &current.public_key)
    {
        return Err(mismatch("different wallet, party or public key".into()));
    }
    if staged.share_version <= current.share_version {
        return Err(mismatch(format!(
            "staged version {} is not newer than current version {}",
            staged.share_version, current.share_version
        )));
    }
    Ok(())
}

fn check_pin(wallet_id: &str, info: &ShareInfo, client: &[u8; 32]) -> Result<(), Rejection> {
    let pinned = pairing::pinned_peer(info)
        .ok_or_else(|| internal(format!("wallet {wallet_id} has no pinned client identity")))?;
    if &pinned != client {
        return Err(wrong_client(wallet_id));
    }
    Ok(())
}

fn unknown(wallet_id: &str) -> Rejection {
    Rejection::new(
        RejectionCode::UnknownWallet.as_str(),
        format!("the co-signer has no wallet {wallet_id}"),
    )
}

fn wrong_client(wallet_id: &str) -> Rejection {
    Rejection::new(
        RejectionCode::WrongClient.as_str(),
        format!("wallet {wallet_id} is paired with another client identity"),
    )
}

fn locked(wallet_id: &str, record: &LockRecord) -> Rejection {
    Rejection::new(
        RejectionCode::WalletLocked.as_str(),
        format!(
            "wallet {wallet_id} is locked on the co-signer: {} ({})",
            record.reason, record.evidence
        ),
    )
}

/// Removes every share in `dir` left unconfirmed for longer than `ttl`.
fn sweep_files(dir: &Path, ttl: Duration) -> Result<usize, StoreError> {
    let io = |source| StoreError::Io {
        action: "sweep unconfirmed wallets in",
        path: dir.to_owned(),
        source,
    };
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let marker = entry.map_err(io)?.path();
        let Some(share) = share_of_marker(&marker) else {
            continue;
        };
        let age = std::fs::metadata(&marker)
            .and_then(|meta| meta.modified())
            .map(|modified| {
                SystemTime::now()
                    .duration_since(modified)
                    .unwrap_or_default()
            })
            .map_err(io)?;
        if age >= ttl && discard_if_unconfirmed(&share)? {
            tracing::warn!(share = %share.display(), age_s = age.as_secs(), "removed a wallet whose keygen was never confirmed");
            removed += 1;
        }
    }
    Ok(removed)
}

const UNCONFIRMED_SUFFIX: &str = ".unconfirmed";

fn unconfirmed_marker(share: &Path) -> PathBuf {
    let mut marker = share.as_os_str().to_owned();
    marker.push(UNCONFIRMED_SUFFIX);
    marker.into()
}

fn share_of_marker(marker: &Path) -> Option<PathBuf> {
    let name = marker.to_str()?;
    name.strip_suffix(UNCONFIRMED_SUFFIX).map(PathBuf::from)
}

/// Removes the share at `path` and its marker when the marker is there.
fn discard_if_unconfirmed(path: &Path) -> Result<bool, StoreError> {
    let marker = unconfirmed_marker(path);
    if !marker.exists() {
        return Ok(false);
    }
    for file in [path, marker.as_path()] {
        match std::fs::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    action: "remove an abandoned wallet",
                    path: file.to_owned(),
                    source,
                })
            }
        }
    }
    Ok(true)
}

/// A fleet storage failure as the client sees it: JetStream unavailable for
/// a moment (a node down, a leader being elected) or a lost race is worth a
/// retry, so it is `busy`; a damaged record is not.
pub(crate) fn fleet_refusal(error: FleetError) -> Rejection {
    match error {
        FleetError::JetStream { .. } | FleetError::Conflict { .. } => {
            tracing::warn!(%error, "fleet storage unavailable");
            Rejection::new(
                RejectionCode::Busy.as_str(),
                "the co-signer's storage is unavailable for a moment; retry",
            )
        }
        FleetError::WalletExists { wallet_id } => Rejection::new(
            RejectionCode::WalletExists.as_str(),
            format!("the co-signer already has a wallet {wallet_id}"),
        ),
        FleetError::CorruptRecord { .. } => internal(error),
    }
}

fn bad_request(error: StoreError) -> Rejection {
    Rejection::new(RejectionCode::BadRequest.as_str(), error.to_string())
}

fn internal(error: impl std::fmt::Display) -> Rejection {
    tracing::error!(error = %error, "co-signer storage failure");
    Rejection::new(
        RejectionCode::Internal.as_str(),
        "the co-signer could not read its share; see its logs",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wallets(dir: &Path) -> Wallets {
        let passphrase = Passphrase::new("test passphrase".to_owned()).unwrap();
        Wallets::open(dir.to_owned(), KeySource::Passphrase(passphrase)).unwrap()
    }

    #[test]
    fn only_unconfirmed_wallets_past_their_ttl_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let wallets = wallets(dir.path());
        let store = wallets.files().unwrap();
        let share = |id: &str| store.share_path(id).unwrap();
        for id in ["abandoned", "kept", "confirmed"] {
            std::fs::write(share(id), b"share").unwrap();
        }
        for id in ["abandoned", "confirmed"] {
            std::fs::write(unconfirmed_marker(&share(id)), b"").unwrap();
        }
        wallets.confirm("confirmed").unwrap();
        assert!(!unconfirmed_marker(&share("confirmed")).exists());

        assert_eq!(
            wallets
                .sweep_unconfirmed(Duration::from_secs(3600))
                .unwrap(),
            0
        );
        assert!(share("abandoned").exists(), "younger than the TTL");
        assert_eq!(wallets.sweep_unconfirmed(Duration::ZERO).unwrap(), 1);
        assert!(!share("abandoned").exists());
        assert!(!unconfirmed_marker(&share("abandoned")).exists());
        assert!(share("kept").exists() && share("confirmed").exists());
        // A confirmed wallet is never discarded, even on request.
        assert!(!wallets.discard_unconfirmed("kept").unwrap());
        assert!(share("kept").exists());
    }
}
