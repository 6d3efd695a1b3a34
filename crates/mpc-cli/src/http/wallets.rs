//! Wallets `mpc serve` has opened, keyed by share file. An entry is used only
//! while the file is unchanged ([`FileStamp`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mpc_client::Wallet;
use mpc_store::FileStamp;

/// Wallets kept open at most: a server holds a few shares, not thousands.
const MAX_OPEN: usize = 64;

#[derive(Default)]
pub struct OpenWallets {
    wallets: Mutex<HashMap<PathBuf, (FileStamp, Arc<Wallet>)>>,
    /// Held while a share is opened: concurrent first requests wait for the
    /// one Argon2id run instead of each running their own (19 MiB apiece).
    pub opening: tokio::sync::Mutex<()>,
}

impl OpenWallets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (FileStamp, Arc<Wallet>)>> {
        self.wallets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wallet opened from `path`, if the file is still the one it was opened from.
    pub fn get(&self, path: &Path) -> Option<Arc<Wallet>> {
        let stamp = FileStamp::of(path).ok()?;
        let mut wallets = self.lock();
        match wallets.get(path) {
            Some((opened, wallet)) if *opened == stamp => Some(Arc::clone(wallet)),
            Some(_) => {
                wallets.remove(path);
                None
            }
            None => None,
        }
    }

    /// Keeps `wallet`, opened from `path` when the file was `stamp`. When
    /// full, an older entry makes room: it is opened again if asked for.
    pub fn insert(&self, path: &Path, stamp: FileStamp, wallet: Arc<Wallet>) {
        let mut wallets = self.lock();
        if wallets.len() >= MAX_OPEN && !wallets.contains_key(path) {
            if let Some(evicted) = wallets.keys().next().cloned() {
                wallets.remove(&evicted);
            }
        }
        wallets.insert(path.to_owned(), (stamp, wallet));
    }
}
