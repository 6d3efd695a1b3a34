//! A directory of shares, one file per wallet (`<dir>/<wallet_id>.enc`): the co-signer's store.

use std::path::{Path, PathBuf};

use crate::atomic::{Overwrite, TEMP_MARKER};
use crate::error::{Result, StoreError};
use crate::format::{ShareInfo, ShareParty};
use crate::keysource::KeySource;
use crate::platform_fs;
use crate::secret::Passphrase;
use crate::share::{self, Expect, LoadedShare, ShareMeta};

const EXTENSION: &str = ".enc";

/// Storage of shares by wallet id. All methods block (files, keyring, Argon2id).
pub trait KeyShareStore {
    fn save(
        &self,
        meta: &ShareMeta,
        plaintext: &[u8],
        source: &KeySource,
        overwrite: Overwrite,
    ) -> Result<ShareInfo>;
    /// Loads and checks party and wallet id, ignoring any wallet lock.
    fn load(&self, wallet_id: &str, passphrase: Option<&Passphrase>) -> Result<LoadedShare>;
    /// Like `load`, but a locked wallet fails with `WalletLocked`: use it for signing.
    fn load_unlocked(
        &self,
        wallet_id: &str,
        passphrase: Option<&Passphrase>,
    ) -> Result<LoadedShare>;
    fn exists(&self, wallet_id: &str) -> Result<bool>;
    /// Wallet ids with a share file, sorted.
    fn list(&self) -> Result<Vec<String>>;
}

/// Shares of one party in one directory (created 0700 on Unix if missing).
#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
    party: ShareParty,
}

impl FileStore {
    pub fn open(dir: impl Into<PathBuf>, party: ShareParty) -> Result<Self> {
        let dir = dir.into();
        platform_fs::create_private_dir_all(&dir)
            .map_err(|e| StoreError::io("create store directory", &dir, e))?;
        Ok(Self { dir, party })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<wallet_id>.enc`: pass it to the lock and rotation functions.
    pub fn share_path(&self, wallet_id: &str) -> Result<PathBuf> {
        share::validate_wallet_id(wallet_id)?;
        Ok(self.dir.join(format!("{wallet_id}{EXTENSION}")))
    }

    fn expect<'a>(&self, wallet_id: &'a str) -> Expect<'a> {
        Expect::party(self.party).wallet(wallet_id)
    }
}

impl KeyShareStore for FileStore {
    fn save(
        &self,
        meta: &ShareMeta,
        plaintext: &[u8],
        source: &KeySource,
        overwrite: Overwrite,
    ) -> Result<ShareInfo> {
        let path = self.share_path(&meta.wallet_id)?;
        if meta.party != self.party {
            return Err(StoreError::WrongParty {
                path,
                expected: self.party,
                found: meta.party,
            });
        }
        share::save_share(&path, meta, plaintext, source, overwrite)
    }

    fn load(&self, wallet_id: &str, passphrase: Option<&Passphrase>) -> Result<LoadedShare> {
        share::load_share(
            &self.share_path(wallet_id)?,
            self.expect(wallet_id),
            passphrase,
        )
    }

    fn load_unlocked(
        &self,
        wallet_id: &str,
        passphrase: Option<&Passphrase>,
    ) -> Result<LoadedShare> {
        share::load_unlocked(
            &self.share_path(wallet_id)?,
            self.expect(wallet_id),
            passphrase,
        )
    }

    fn exists(&self, wallet_id: &str) -> Result<bool> {
        let path = self.share_path(wallet_id)?;
        path.try_exists()
            .map_err(|e| StoreError::io("check", path, e))
    }

    fn list(&self) -> Result<Vec<String>> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| StoreError::io("list", &self.dir, e))?;
        let mut ids = Vec::new();
        for entry in entries {
            let name = entry
                .map_err(|e| StoreError::io("list", &self.dir, e))?
                .file_name();
            let Some(name) = name.to_str() else { continue };
            // Skips `.next`, `.lock` and in-flight temp files.
            if let Some(id) = name.strip_suffix(EXTENSION) {
                if !name.contains(TEMP_MARKER) && share::validate_wallet_id(id).is_ok() {
                    ids.push(id.to_owned());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}
