//! The one place that knows which OS keyring exists on which platform (the
//! target dependencies in Cargo.toml enable the matching `keyring` features).
//! The rest of the crate sees a platform-neutral [`Slot`]: get, set or delete
//! the secret at (backend, service, user).
//!
//! Entries are always built from an explicit platform credential, never with
//! `keyring::Entry::new`: that would pick keyring's default store, which is its
//! in-memory mock wherever no native store is compiled in, and a data key kept
//! there would vanish with the process.

use crate::error::StoreError;
use crate::format::KeyringBackend;

pub(crate) use imp::Slot;

/// The persistent keyring of this platform, used for new keyring-encrypted files.
#[cfg(target_os = "linux")]
pub(crate) const NATIVE: Option<KeyringBackend> = Some(KeyringBackend::SecretService);
#[cfg(target_os = "macos")]
pub(crate) const NATIVE: Option<KeyringBackend> = Some(KeyringBackend::MacosKeychain);
#[cfg(target_os = "windows")]
pub(crate) const NATIVE: Option<KeyringBackend> = Some(KeyringBackend::WindowsCredentialManager);
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
pub(crate) const NATIVE: Option<KeyringBackend> = None;

/// [`NATIVE`], or the error that tells the user to use a passphrase instead.
pub(crate) fn native() -> Result<KeyringBackend, StoreError> {
    NATIVE.ok_or(StoreError::KeyringUnsupported {
        platform: std::env::consts::OS,
    })
}

fn not_on_this_platform(backend: KeyringBackend) -> StoreError {
    StoreError::KeyringBackendUnsupported {
        backend,
        platform: std::env::consts::OS,
    }
}

#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
mod imp {
    use keyring::credential::Credential;
    use keyring::{Entry, Error};
    use zeroize::Zeroizing;

    use crate::error::{Result, StoreError};
    use crate::format::KeyringBackend;

    /// One secret in one OS keyring.
    pub(crate) struct Slot(Entry);

    impl Slot {
        /// Names the slot; touches no keyring yet. A backend of another
        /// platform is `KeyringBackendUnsupported`.
        pub(crate) fn new(backend: KeyringBackend, service: &str, user: &str) -> Result<Self> {
            let credential: Box<Credential> = match backend {
                #[cfg(target_os = "linux")]
                KeyringBackend::SecretService => Box::new(
                    keyring::secret_service::SsCredential::new_with_target(None, service, user)
                        .map_err(store_error)?,
                ),
                #[cfg(target_os = "linux")]
                KeyringBackend::KernelKeyutils => Box::new(
                    keyring::keyutils::KeyutilsCredential::new_with_target(None, service, user)
                        .map_err(store_error)?,
                ),
                #[cfg(target_os = "macos")]
                KeyringBackend::MacosKeychain => Box::new(
                    keyring::macos::MacCredential::new_with_target(None, service, user)
                        .map_err(store_error)?,
                ),
                #[cfg(target_os = "windows")]
                KeyringBackend::WindowsCredentialManager => Box::new(
                    keyring::windows::WinCredential::new_with_target(None, service, user)
                        .map_err(store_error)?,
                ),
                other => return Err(super::not_on_this_platform(other)),
            };
            Ok(Slot(Entry::new_with_credential(credential)))
        }

        /// The stored secret; `None` when the entry does not exist.
        pub(crate) fn get(&self) -> Result<Option<Zeroizing<Vec<u8>>>> {
            match self.0.get_secret() {
                Ok(secret) => Ok(Some(Zeroizing::new(secret))),
                Err(Error::NoEntry) => Ok(None),
                Err(e) => Err(store_error(e)),
            }
        }

        /// Creates or replaces the entry.
        pub(crate) fn set(&self, secret: &[u8]) -> Result<()> {
            self.0.set_secret(secret).map_err(store_error)
        }

        /// Removes the entry; `false` when it did not exist.
        pub(crate) fn delete(&self) -> Result<bool> {
            match self.0.delete_credential() {
                Ok(()) => Ok(true),
                Err(Error::NoEntry) => Ok(false),
                Err(e) => Err(store_error(e)),
            }
        }
    }

    /// Storage that cannot be reached at all becomes `KeyringUnavailable`
    /// (which suggests the passphrase); anything else is a plain keyring error.
    fn store_error(error: Error) -> StoreError {
        match error {
            Error::PlatformFailure(e) | Error::NoStorageAccess(e) => {
                StoreError::KeyringUnavailable {
                    detail: e.to_string(),
                }
            }
            other => StoreError::Keyring {
                detail: other.to_string(),
            },
        }
    }
}

/// No OS keyring here (and no `keyring` crate): no slot can exist.
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
mod imp {
    use zeroize::Zeroizing;

    use crate::error::Result;
    use crate::format::KeyringBackend;

    /// Uninhabited: [`Slot::new`] always fails.
    pub(crate) enum Slot {}

    impl Slot {
        pub(crate) fn new(backend: KeyringBackend, _service: &str, _user: &str) -> Result<Self> {
            Err(super::not_on_this_platform(backend))
        }

        pub(crate) fn get(&self) -> Result<Option<Zeroizing<Vec<u8>>>> {
            match *self {}
        }

        pub(crate) fn set(&self, _secret: &[u8]) -> Result<()> {
            match *self {}
        }

        pub(crate) fn delete(&self) -> Result<bool> {
            match *self {}
        }
    }
}
