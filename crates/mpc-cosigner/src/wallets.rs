//! The co-signer's wallets: one encrypted share file per wallet, the client
//! identity pinned in its authenticated header, a lock file after
//! misbehaviour, a staged `.next` file during a refresh, and an
//! `.unconfirmed` marker from keygen until the client proves it kept its own
//! share (an interrupted keygen must not leave a wallet here for ever). Decrypted shares
//! are cached in memory (zeroized on drop) so signing does not pay Argon2id
//! or a keyring round trip each time; the file on disk stays the authority.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mpc_api::{RejectionCode, PROTOCOL};
use mpc_protocol::KeyShare;
use mpc_session::Rejection;
use mpc_store::{
    pairing, FileStamp, FileStore, KeyShareStore, KeySource, Overwrite, Passphrase, ShareParty,
    StoreError,
};

/// A wallet as the co-signer uses it.
pub struct Wallet {
    pub share: KeyShare,
    pub version: u32,
    pub client_pub: [u8; 32],
}

struct Cached {
    wallet: Arc<Wallet>,
    stamp: FileStamp,
}

pub struct Wallets {
    store: FileStore,
    key_source: KeySource,
    cache: Mutex<HashMap<String, Cached>>,
    busy: Arc<Mutex<HashSet<String>>>,
}

/// Marks a wallet as in a session; released on drop.
pub struct Claim {
    wallet_id: String,
    busy: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.busy.lock().expect("busy set").remove(&self.wallet_id);
    }
}

impl Wallets {
    pub fn open(dir: PathBuf, key_source: KeySource) -> Result<Wallets, StoreError> {
        Ok(Wallets {
            store: FileStore::open(dir, ShareParty::Cosigner)?,
            key_source,
            cache: Mutex::default(),
            busy: Arc::default(),
        })
    }

    /// One session per wallet at a time: a second one is refused as busy.
    pub fn claim(&self, wallet_id: &str) -> Result<Claim, Rejection> {
        let mut busy = self.busy.lock().expect("busy set");
        if !busy.insert(wallet_id.to_owned()) {
            return Err(Rejection::new(
                RejectionCode::Busy.as_str(),
                format!("another session on wallet {wallet_id} is running; retry shortly"),
            ));
        }
        Ok(Claim {
            wallet_id: wallet_id.to_owned(),
            busy: Arc::clone(&self.busy),
        })
    }

    fn passphrase(&self) -> Option<&Passphrase> {
        match &self.key_source {
            KeySource::Passphrase(passphrase) => Some(passphrase),
            KeySource::Keyring(_) => None,
        }
    }

    fn path(&self, wallet_id: &str) -> Result<PathBuf, Rejection> {
        self.store.share_path(wallet_id).map_err(bad_request)
    }

    /// The wallet for a session of `client`: refused when unknown, locked or
    /// paired with another client. Blocking.
    pub fn load(&self, wallet_id: &str, client: &[u8; 32]) -> Result<Arc<Wallet>, Rejection> {
        let path = self.path(wallet_id)?;
        // Checked on every use, so an operator's lock takes effect at once.
        if let Some(record) = mpc_store::lock_status(&path).map_err(internal)? {
            return Err(Rejection::new(
                RejectionCode::WalletLocked.as_str(),
                format!(
                    "wallet {wallet_id} is locked on the co-signer: {} ({})",
                    record.reason, record.evidence
                ),
            ));
        }
        let unknown = || {
            Rejection::new(
                RejectionCode::UnknownWallet.as_str(),
                format!("the co-signer has no wallet {wallet_id}"),
            )
        };
        // A cached share is used only while its file is the one it came from.
        let stamp = match FileStamp::of(&path) {
            Ok(stamp) => stamp,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.cache.lock().expect("cache").remove(wallet_id);
                return Err(unknown());
            }
            Err(e) => return Err(internal(e)),
        };
        let wrong_client = || {
            Rejection::new(
                RejectionCode::WrongClient.as_str(),
                format!("wallet {wallet_id} is paired with another client identity"),
            )
        };
        if let Some(cached) = self.cache.lock().expect("cache").get(wallet_id) {
            if cached.stamp == stamp {
                if &cached.wallet.client_pub != client {
                    return Err(wrong_client());
                }
                return Ok(Arc::clone(&cached.wallet));
            }
        }
        // The header's pin is read first, so another client's request costs
        // no decryption (Argon2id); the decryption then authenticates it.
        if &self.pinned_client(wallet_id)? != client {
            return Err(wrong_client());
        }
        let loaded = match self.store.load_unlocked(wallet_id, self.passphrase()) {
            Ok(loaded) => loaded,
            Err(StoreError::NotFound { .. }) => return Err(unknown()),
            Err(e) => return Err(internal(e)),
        };
        let share = KeyShare::from_cbor(&loaded.plaintext).map_err(internal)?;
        let client_pub = pairing::pinned_peer(&loaded.info)
            .ok_or_else(|| internal(format!("wallet {wallet_id} has no pinned client identity")))?;
        if &client_pub != client {
            return Err(wrong_client());
        }
        let wallet = Arc::new(Wallet {
            share,
            version: loaded.info.share_version,
            client_pub,
        });
        let cached = Cached {
            wallet: Arc::clone(&wallet),
            stamp,
        };
        self.cache
            .lock()
            .expect("cache")
            .insert(wallet_id.to_owned(), cached);
        Ok(wallet)
    }

    /// The client key pinned in the wallet's share header, read without
    /// decrypting: cheap enough to check before [`load`](Self::load). Not yet
    /// authenticated; `load` authenticates the header. Blocking.
    fn pinned_client(&self, wallet_id: &str) -> Result<[u8; 32], Rejection> {
        let path = self.path(wallet_id)?;
        let info = match mpc_store::read_info(&path) {
            Ok(info) => info,
            Err(StoreError::NotFound { .. }) => {
                return Err(Rejection::new(
                    RejectionCode::UnknownWallet.as_str(),
                    format!("the co-signer has no wallet {wallet_id}"),
                ))
            }
            Err(e) => return Err(internal(e)),
        };
        pairing::pinned_peer(&info)
            .ok_or_else(|| internal(format!("wallet {wallet_id} has no pinned client identity")))
    }

    /// Refuses keygen for a wallet id that is already taken. Blocking.
    pub fn ensure_new(&self, wallet_id: &str) -> Result<(), Rejection> {
        if self.store.exists(wallet_id).map_err(bad_request)? {
            return Err(Rejection::new(
                RejectionCode::WalletExists.as_str(),
                format!("the co-signer already has a wallet {wallet_id}"),
            ));
        }
        Ok(())
    }

    /// Stores a new wallet's share, pinning the client identity, marked
    /// unconfirmed until the client shows it kept its own share. Blocking.
    pub fn create(
        &self,
        wallet_id: &str,
        client_pub: &[u8; 32],
        share: &KeyShare,
    ) -> Result<(), StoreError> {
        let meta = pairing::new_share_meta(
            wallet_id,
            ShareParty::Cosigner,
            &share.public_key().to_compressed(),
            PROTOCOL,
            client_pub,
        );
        // The marker goes first: a crash between the two leaves a marker
        // alone, which the sweep removes, never an unmarked orphan.
        let path = self.store.share_path(wallet_id)?;
        mpc_store::write_private(&unconfirmed_marker(&path), b"")?;
        self.store
            .save(&meta, &share.to_cbor(), &self.key_source, Overwrite::Refuse)?;
        Ok(())
    }

    /// The client kept its share (it said so, or it authenticated a later
    /// session as the wallet's pinned client): the wallet stays. Blocking.
    pub fn confirm(&self, wallet_id: &str) -> Result<(), StoreError> {
        let marker = unconfirmed_marker(&self.store.share_path(wallet_id)?);
        match std::fs::remove_file(&marker) {
            Ok(()) => {
                tracing::info!(wallet = %wallet_id, "new wallet confirmed by its client");
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                action: "remove the unconfirmed marker",
                path: marker,
                source,
            }),
        }
    }

    /// Whether the wallet has an unconfirmed-keygen marker or a staged share
    /// for [`confirm`](Self::confirm) and [`discard_staged`](Self::discard_staged)
    /// to settle: two `stat`s, so the common case costs no blocking task.
    pub fn needs_settling(&self, wallet_id: &str) -> bool {
        self.store.share_path(wallet_id).is_ok_and(|path| {
            unconfirmed_marker(&path).exists() || mpc_store::next_path(&path).exists()
        })
    }

    /// Removes a wallet whose keygen the client abandoned, if it is still
    /// unconfirmed; a confirmed wallet is never touched. Blocking.
    pub fn discard_unconfirmed(&self, wallet_id: &str) -> Result<bool, StoreError> {
        let path = self.store.share_path(wallet_id)?;
        self.cache.lock().expect("cache").remove(wallet_id);
        discard_if_unconfirmed(&path)
    }

    /// Removes every wallet left unconfirmed for longer than `ttl` (an
    /// interrupted keygen); returns how many. Blocking.
    pub fn sweep_unconfirmed(&self, ttl: Duration) -> Result<usize, StoreError> {
        let dir = self.store.dir();
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

    /// Locks a wallet after the client was caught misbehaving. Blocking.
    pub fn lock(&self, wallet_id: &str, evidence: &str) -> Result<(), StoreError> {
        let path = self.store.share_path(wallet_id)?;
        mpc_store::lock(&path, "the client misbehaved in a protocol run", evidence)?;
        self.cache.lock().expect("cache").remove(wallet_id);
        Ok(())
    }

    /// Writes a refreshed share beside the current one. Blocking.
    pub fn stage(&self, wallet_id: &str, share: &KeyShare, version: u32) -> Result<(), StoreError> {
        let path = self.store.share_path(wallet_id)?;
        mpc_store::stage_next(&path, &share.to_cbor(), version, self.passphrase())?;
        Ok(())
    }

    /// Makes the staged share current. Blocking.
    pub fn promote(&self, wallet_id: &str) -> Result<(), StoreError> {
        let path = self.store.share_path(wallet_id)?;
        mpc_store::promote_next(&path, self.passphrase())?;
        self.cache.lock().expect("cache").remove(wallet_id);
        Ok(())
    }

    /// Drops a staged share the client never confirmed. Blocking.
    pub fn discard_staged(&self, wallet_id: &str) -> Result<bool, StoreError> {
        let path = self.store.share_path(wallet_id)?;
        mpc_store::discard_next(&path)
    }
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
        let share = |id: &str| wallets.store.share_path(id).unwrap();
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
