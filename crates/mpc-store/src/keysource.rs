//! Where a file's data key comes from, and the CLI's rule for choosing it.

use std::path::Path;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::crypto::{self, Argon2idParams};
use crate::error::{Result, StoreError};
use crate::format::{KeySourceDescriptor, KeyringBackend, ShareParty};
use crate::keyring_backend::{self, Slot};
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

/// The CLI contract, reading the process environment and probing this
/// platform's keyring ([`KeyringBackend::native`]).
/// Blocking (D-Bus on Linux): from async code call it inside `spawn_blocking`.
pub fn resolve_key_source(explicit: Option<&str>) -> Result<ResolvedKeySource> {
    resolve_key_source_with(
        explicit,
        &|name| std::env::var(name).ok(),
        &probe_native_keyring,
    )
}

/// [`resolve_key_source`] with the environment and keyring probe injected;
/// `probe` returns the keyring to use when one answers.
///
/// Order: `explicit` (`--key-source`), else `MPC_KEY_SOURCE`, else passphrase when
/// `MPC_PASSPHRASE` or `MPC_PASSPHRASE_FILE` is set, else keyring when it answers,
/// else prompt. Requesting the keyring when none answers is the probe's error.
pub fn resolve_key_source_with(
    explicit: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    probe: &dyn Fn() -> Result<KeyringBackend>,
) -> Result<ResolvedKeySource> {
    let requested = match explicit.map(str::to_owned).or_else(|| env(ENV_KEY_SOURCE)) {
        Some(value) => Some(value.parse::<KeySourceKind>()?),
        None => None,
    };
    let keyring = |backend| ResolvedKeySource::Ready(KeySource::Keyring(backend));
    // An explicit keyring choice ignores the passphrase variables, even malformed ones.
    Ok(match (requested, passphrase_from_env_with(env)) {
        (Some(KeySourceKind::Keyring), _) => keyring(probe()?),
        (_, Err(e)) => return Err(e),
        (_, Ok(Some(passphrase))) => ResolvedKeySource::Ready(KeySource::Passphrase(passphrase)),
        (Some(KeySourceKind::Passphrase), Ok(None)) => ResolvedKeySource::PromptForPassphrase,
        (None, Ok(None)) => probe().map_or(ResolvedKeySource::PromptForPassphrase, keyring),
    })
}

/// This platform's keyring when it answers; `KeyringUnsupported` where there is none.
fn probe_native_keyring() -> Result<KeyringBackend> {
    let backend = keyring_backend::native()?;
    probe_keyring(backend)?;
    Ok(backend)
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
    Slot::new(backend, KEYRING_SERVICE, "probe")?
        .get()
        .map(drop)
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
    Slot::new(*backend, service, user)?.delete()
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
            let slot = Slot::new(*backend, KEYRING_SERVICE, &user)?;
            let key = match slot.get()? {
                Some(secret) => key_from_secret(&secret).ok_or_else(|| StoreError::Keyring {
                    detail: format!(
                        "entry (service {KEYRING_SERVICE:?}, user {user:?}) exists but is not a \
                         32-byte key; delete it or pick another wallet id"
                    ),
                })?,
                None => {
                    let key = crypto::random_key();
                    slot.set(key.as_ref())?;
                    key
                }
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
    match Slot::new(backend, service, user)?.get()? {
        Some(secret) => key_from_secret(&secret).ok_or_else(wrong),
        None => Err(StoreError::KeyringEntryMissing {
            path: path.into(),
            service: service.into(),
            user: user.into(),
        }),
    }
}

fn key_from_secret(secret: &[u8]) -> Option<DataKey> {
    let mut key = Zeroizing::new([0u8; 32]);
    (secret.len() == 32).then(|| {
        key.copy_from_slice(secret);
        key
    })
}
