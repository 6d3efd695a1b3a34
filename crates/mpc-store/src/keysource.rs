//! Where a file's data key comes from, and the CLI's rule for choosing it.

use std::path::Path;
use std::str::FromStr;

use keyring::Entry;
use zeroize::Zeroizing;

use crate::crypto::{self, Argon2idParams};
use crate::error::{Result, StoreError};
use crate::format::{KeySourceDescriptor, KeyringBackend, ShareParty};
use crate::secret::{DataKey, Passphrase};

/// Keyring service name of every data key.
pub const KEYRING_SERVICE: &str = "mpc-wallet";
pub const ENV_KEY_SOURCE: &str = "MPC_KEY_SOURCE";
pub const ENV_PASSPHRASE: &str = "MPC_PASSPHRASE";
pub const ENV_PASSPHRASE_FILE: &str = "MPC_PASSPHRASE_FILE";
pub const ENV_BACKUP_PASSPHRASE: &str = "MPC_BACKUP_PASSPHRASE";
pub const ENV_BACKUP_PASSPHRASE_FILE: &str = "MPC_BACKUP_PASSPHRASE_FILE";

/// How to encrypt a file being written.
#[derive(Debug)]
pub enum KeySource {
    /// A random 32-byte data key kept in the OS keyring under
    /// (service `mpc-wallet`, user `<party>/<wallet_id>`).
    Keyring(KeyringBackend),
    /// A key derived from the passphrase with Argon2id.
    Passphrase(Passphrase),
}

/// The user's choice of key source, as spelled on the command line or in `MPC_KEY_SOURCE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySourceKind {
    Keyring,
    Passphrase,
}

impl FromStr for KeySourceKind {
    type Err = StoreError;

    fn from_str(value: &str) -> Result<Self> {
        match value {
            "keyring" => Ok(KeySourceKind::Keyring),
            "passphrase" => Ok(KeySourceKind::Passphrase),
            _ => Err(StoreError::InvalidKeySource {
                value: value.into(),
            }),
        }
    }
}

/// Outcome of [`resolve_key_source`].
#[derive(Debug)]
pub enum ResolvedKeySource {
    Ready(KeySource),
    /// A passphrase is needed and none was given: prompt for it, then use
    /// `KeySource::Passphrase(Passphrase::new(entered)?)`.
    PromptForPassphrase,
}

/// The CLI contract, reading the process environment and probing the Secret Service.
/// Blocking (D-Bus): from async code call it inside `spawn_blocking`.
pub fn resolve_key_source(explicit: Option<&str>) -> Result<ResolvedKeySource> {
    resolve_key_source_with(explicit, &|name| std::env::var(name).ok(), &|| {
        probe_keyring(KeyringBackend::SecretService)
    })
}

/// [`resolve_key_source`] with the environment and keyring probe injected.
///
/// Order: `explicit` (`--key-source`), else `MPC_KEY_SOURCE`, else passphrase when
/// `MPC_PASSPHRASE` or `MPC_PASSPHRASE_FILE` is set, else keyring when it answers,
/// else prompt. Requesting the keyring when none answers is an error.
pub fn resolve_key_source_with(
    explicit: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    probe: &dyn Fn() -> Result<()>,
) -> Result<ResolvedKeySource> {
    let requested = match explicit.map(str::to_owned).or_else(|| env(ENV_KEY_SOURCE)) {
        Some(value) => Some(value.parse::<KeySourceKind>()?),
        None => None,
    };
    let keyring = ResolvedKeySource::Ready(KeySource::Keyring(KeyringBackend::SecretService));
    // An explicit keyring choice ignores the passphrase variables, even malformed ones.
    Ok(match (requested, passphrase_from_env_with(env)) {
        (Some(KeySourceKind::Keyring), _) => {
            probe()?;
            keyring
        }
        (_, Err(e)) => return Err(e),
        (_, Ok(Some(passphrase))) => ResolvedKeySource::Ready(KeySource::Passphrase(passphrase)),
        (Some(KeySourceKind::Passphrase), Ok(None)) => ResolvedKeySource::PromptForPassphrase,
        (None, Ok(None)) if probe().is_ok() => keyring,
        (None, Ok(None)) => ResolvedKeySource::PromptForPassphrase,
    })
}

/// The passphrase from `MPC_PASSPHRASE` or the file named by `MPC_PASSPHRASE_FILE`
/// (one trailing newline stripped); `None` when neither is set.
pub fn passphrase_from_env() -> Result<Option<Passphrase>> {
    passphrase_from_env_with(&|name| std::env::var(name).ok())
}

/// The backup passphrase from `MPC_BACKUP_PASSPHRASE` or the file named by
/// `MPC_BACKUP_PASSPHRASE_FILE`, by the same rules; `None` when neither is set.
pub fn backup_passphrase_from_env() -> Result<Option<Passphrase>> {
    passphrase_from_env_with(&|name| {
        let renamed = match name {
            ENV_PASSPHRASE => ENV_BACKUP_PASSPHRASE,
            ENV_PASSPHRASE_FILE => ENV_BACKUP_PASSPHRASE_FILE,
            other => other,
        };
        std::env::var(renamed).ok()
    })
}

pub fn passphrase_from_env_with(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Passphrase>> {
    let env_error = |detail: String| StoreError::PassphraseEnv { detail };
    match (
        env(ENV_PASSPHRASE).map(Zeroizing::new),
        env(ENV_PASSPHRASE_FILE),
    ) {
        (Some(_), Some(_)) => Err(env_error(format!(
            "both {ENV_PASSPHRASE} and {ENV_PASSPHRASE_FILE} are set; set only one"
        ))),
        (Some(value), None) => Passphrase::new(value)
            .map(Some)
            .map_err(|_| env_error(format!("{ENV_PASSPHRASE} is empty"))),
        (None, Some(file)) => {
            let mut text = Zeroizing::new(std::fs::read_to_string(&file).map_err(|e| {
                env_error(format!("cannot read {ENV_PASSPHRASE_FILE} {file}: {e}"))
            })?);
            let stripped_len = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .map(str::len);
            if let Some(len) = stripped_len {
                text.truncate(len);
            }
            Passphrase::new(text)
                .map(Some)
                .map_err(|_| env_error(format!("{ENV_PASSPHRASE_FILE} {file} is empty")))
        }
        (None, None) => Ok(None),
    }
}

/// `Ok` when the keyring backend answers (an absent probe entry counts as an answer).
pub fn probe_keyring(backend: KeyringBackend) -> Result<()> {
    let entry = keyring_entry(backend, KEYRING_SERVICE, "probe")?;
    match entry.get_secret() {
        Ok(mut secret) => {
            zeroize::Zeroize::zeroize(&mut secret);
            Ok(())
        }
        Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keyring_error(e)),
    }
}

/// Removes the keyring data key of a keyring-encrypted file (e.g. when deleting a wallet).
/// Returns `false` when the file is passphrase-encrypted or the entry was already gone.
pub fn delete_keyring_key(descriptor: &KeySourceDescriptor) -> Result<bool> {
    let KeySourceDescriptor::Keyring {
        backend,
        service,
        user,
    } = descriptor
    else {
        return Ok(false);
    };
    match keyring_entry(*backend, service, user)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keyring_error(e)),
    }
}

pub(crate) fn keyring_user(party: ShareParty, wallet_id: &str) -> String {
    format!("{party}/{wallet_id}")
}

/// Produces the key and header descriptor for a new file. A keyring entry is
/// reused when present, so re-encrypting (rotation, `--force`) never strands
/// the current file's key.
pub(crate) fn new_file_key(
    source: &KeySource,
    party: ShareParty,
    wallet_id: &str,
) -> Result<(DataKey, KeySourceDescriptor)> {
    match source {
        KeySource::Passphrase(passphrase) => {
            let argon2id = Argon2idParams::generate();
            let key = argon2id
                .derive(passphrase)
                .expect("freshly generated Argon2id parameters are valid");
            Ok((key, KeySourceDescriptor::Passphrase { argon2id }))
        }
        KeySource::Keyring(backend) => {
            let user = keyring_user(party, wallet_id);
            let entry = keyring_entry(*backend, KEYRING_SERVICE, &user)?;
            let key = match entry.get_secret() {
                Ok(secret) => key_from_secret(secret).ok_or_else(|| StoreError::Keyring {
                    detail: format!(
                        "entry (service {KEYRING_SERVICE:?}, user {user:?}) exists but is not a \
                         32-byte key; delete it or pick another wallet id"
                    ),
                })?,
                Err(keyring::Error::NoEntry) => {
                    let key = crypto::random_key();
                    entry.set_secret(key.as_ref()).map_err(keyring_error)?;
                    key
                }
                Err(e) => return Err(keyring_error(e)),
            };
            let descriptor = KeySourceDescriptor::Keyring {
                backend: *backend,
                service: KEYRING_SERVICE.into(),
                user,
            };
            Ok((key, descriptor))
        }
    }
}

/// Fetches the key of an existing keyring-encrypted file.
pub(crate) fn keyring_key(
    path: &Path,
    backend: KeyringBackend,
    service: &str,
    user: &str,
) -> Result<DataKey> {
    let wrong = || StoreError::WrongKeyringKey {
        path: path.into(),
        service: service.into(),
        user: user.into(),
    };
    match keyring_entry(backend, service, user)?.get_secret() {
        Ok(secret) => key_from_secret(secret).ok_or_else(wrong),
        Err(keyring::Error::NoEntry) => Err(StoreError::KeyringEntryMissing {
            path: path.into(),
            service: service.into(),
            user: user.into(),
        }),
        Err(e) => Err(keyring_error(e)),
    }
}

fn key_from_secret(secret: Vec<u8>) -> Option<DataKey> {
    let secret = Zeroizing::new(secret);
    let mut key = Zeroizing::new([0u8; 32]);
    (secret.len() == 32).then(|| {
        key.copy_from_slice(&secret);
        key
    })
}

fn keyring_entry(backend: KeyringBackend, service: &str, user: &str) -> Result<Entry> {
    let credential: Box<keyring::credential::Credential> = match backend {
        KeyringBackend::SecretService => Box::new(
            keyring::secret_service::SsCredential::new_with_target(None, service, user)
                .map_err(keyring_error)?,
        ),
        KeyringBackend::KernelKeyutils => Box::new(
            keyring::keyutils::KeyutilsCredential::new_with_target(None, service, user)
                .map_err(keyring_error)?,
        ),
    };
    Ok(Entry::new_with_credential(credential))
}

/// Storage that cannot be reached at all becomes `KeyringUnavailable` (which
/// suggests the passphrase); anything else is a plain keyring error.
fn keyring_error(error: keyring::Error) -> StoreError {
    match error {
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
            StoreError::KeyringUnavailable {
                detail: e.to_string(),
            }
        }
        other => StoreError::Keyring {
            detail: other.to_string(),
        },
    }
}
