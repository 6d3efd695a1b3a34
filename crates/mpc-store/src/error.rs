//! One typed error per way a store operation can fail, each saying what to do.

use std::path::PathBuf;

use crate::format::{FileKind, KeyringBackend, ShareParty};

/// Everything that can go wrong in `mpc-store`. No variant ever carries
/// plaintext, a passphrase or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{path} already exists; refusing to overwrite it (use --force to replace it)")]
    AlreadyExists { path: PathBuf },
    #[error("{path} is not an mpc share file (bad magic bytes)")]
    NotAShareFile { path: PathBuf },
    #[error("{path} is truncated ({detail}); restore it from a backup")]
    Truncated { path: PathBuf, detail: String },
    #[error(
        "{path} uses share file format version {found}, this build reads only version {supported}; \
         upgrade mpc"
    )]
    UnknownFormatVersion {
        path: PathBuf,
        found: u16,
        supported: u16,
    },
    #[error("{path} was modified or corrupted ({detail}); restore it from a backup")]
    Tampered { path: PathBuf, detail: String },
    #[error("wrong passphrase for {path}")]
    WrongPassphrase { path: PathBuf },
    #[error("{path} is encrypted with a passphrase; provide it (prompt, MPC_PASSPHRASE or MPC_PASSPHRASE_FILE)")]
    PassphraseRequired { path: PathBuf },
    #[error(
        "the keyring has no entry (service {service:?}, user {user:?}) for {path}; \
         the key was deleted or this is another machine/user: import a backup instead"
    )]
    KeyringEntryMissing {
        path: PathBuf,
        service: String,
        user: String,
    },
    #[error(
        "the keyring entry (service {service:?}, user {user:?}) holds a different key than the one \
         {path} was encrypted with; import a backup instead"
    )]
    WrongKeyringKey {
        path: PathBuf,
        service: String,
        user: String,
    },
    #[error(
        "no OS keyring is available ({detail}); use --key-source passphrase \
         (or MPC_KEY_SOURCE=passphrase with MPC_PASSPHRASE / MPC_PASSPHRASE_FILE)"
    )]
    KeyringUnavailable { detail: String },
    #[error(
        "{platform} has no OS keyring that mpc can use; use --key-source passphrase \
         (or MPC_KEY_SOURCE=passphrase with MPC_PASSPHRASE / MPC_PASSPHRASE_FILE)"
    )]
    KeyringUnsupported { platform: &'static str },
    #[error(
        "the {backend} keyring does not exist on {platform}; a share whose key is kept there \
         opens only on its own machine: move shares between machines with a backup"
    )]
    KeyringBackendUnsupported {
        backend: KeyringBackend,
        platform: &'static str,
    },
    #[error("OS keyring error: {detail}")]
    Keyring { detail: String },
    #[error("{path} holds the {found} share, expected the {expected} share")]
    WrongParty {
        path: PathBuf,
        expected: ShareParty,
        found: ShareParty,
    },
    #[error("{path} belongs to wallet {found:?}, expected wallet {expected:?}")]
    WrongWallet {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{path} is a {found} file, expected a {expected} file")]
    WrongKind {
        path: PathBuf,
        expected: FileKind,
        found: FileKind,
    },
    #[error(
        "wallet of {path} is locked ({reason}): {evidence}; investigate, then unlock it explicitly"
    )]
    WalletLocked {
        path: PathBuf,
        reason: String,
        evidence: String,
    },
    #[error("lock record {path} is unreadable ({detail}); the wallet stays locked until it is fixed or removed")]
    LockRecordCorrupt { path: PathBuf, detail: String },
    #[error("invalid wallet id {wallet_id:?}: {reason}")]
    InvalidWalletId {
        wallet_id: String,
        reason: &'static str,
    },
    #[error("invalid public key: {detail} (expected 33-byte compressed secp256k1 key in hex)")]
    InvalidPublicKey { detail: String },
    #[error("unknown key source {value:?}; use \"keyring\" or \"passphrase\"")]
    InvalidKeySource { value: String },
    #[error("passphrase from environment: {detail}")]
    PassphraseEnv { detail: String },
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("new share version {requested} must be greater than the current version {current}")]
    VersionNotIncreasing { current: u32, requested: u32 },
    #[error("no staged share at {path}")]
    NoStagedShare { path: PathBuf },
    #[error("staged share {path} does not match the current share: {detail}; discard it")]
    StagedMismatch { path: PathBuf, detail: String },
    #[error("backup check failed: {detail}")]
    BackupCheckFailed { detail: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
