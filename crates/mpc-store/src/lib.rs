//! # mpc-store: shares at rest
//!
//! Stores opaque share bytes (the protocol crate's CBOR `KeyShare`) encrypted
//! on disk, plus metadata. Knows nothing of the network or of MPC math.
//!
//! ## File format (version 1)
//!
//! ```text
//! offset  size  field
//! 0       8     magic "MPCSHARE"
//! 8       2     format version, big-endian u16 (= 1)
//! 10      4     header length H, big-endian u32 (<= 64 KiB)
//! 14      H     header: CBOR map (ciborium/serde) of ShareInfo:
//!                 kind          "share" | "backup"
//!                 wallet_id     string ([A-Za-z0-9._-], 1..=128, no leading '.')
//!                 party         "client" | "cosigner"
//!                 curve         "secp256k1"
//!                 share_version u32, incremented by key refresh
//!                 public_key    compressed public key, lowercase hex
//!                 metadata      map string -> string, for the caller
//!                 key_source    {type: "keyring", backend: "secret-service" | "kernel-keyutils"
//!                                  | "macos-keychain" | "windows-credential-manager",
//!                                service, user}
//!                             | {type: "passphrase", argon2id: {salt (hex, 16 bytes),
//!                                m_cost_kib, t_cost, p_cost}}
//!                 key_check     {nonce, tag}: AES-GCM tag of an empty message under the
//!                                data key, to tell a wrong key from a modified file
//!                 ciphertext_len u64, to tell a cut-off file from a modified one
//! 14+H    12    random nonce
//! 26+H    rest  AES-256-GCM ciphertext of the share, 16-byte tag at the end
//! ```
//!
//! The AEAD associated data is bytes `0 .. 14+H`, so changing any header byte
//! makes decryption fail. Keyring data keys are 32 random bytes under service
//! `mpc-wallet`, user `<party>/<wallet_id>`, in the platform's own keyring
//! ([`KeyringBackend::native`]: Secret Service on Linux, the keychain on macOS,
//! the Credential Manager on Windows; elsewhere only passphrases work).
//! Passphrase keys come from Argon2id (m = 19 MiB, t = 2, p = 1 for new files).
//!
//! Files are written atomically, mode 0600 on Unix ([`write_private`]: temp
//! file, fsync, rename, fsync directory). Beside a share `X` live `X.lock`
//! (wallet lock, JSON) and `X.next` (staged refreshed share).
//!
//! All functions block (file system, D-Bus keyring, Argon2id). The Secret
//! Service client runs its own runtime: from async code call them inside
//! `tokio::task::spawn_blocking`.

mod atomic;
mod backup;
mod crypto;
mod error;
mod format;
mod keyring_backend;
mod keysource;
mod lock;
pub mod pairing;
mod platform_fs;
mod rotation;
mod sealed;
mod secret;
mod share;
mod store;
mod strength;

pub use atomic::{write_private, write_private_new, Overwrite};
pub use backup::{export_backup, import_backup, verify_backup};
pub use crypto::{Argon2idParams, ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST};
pub use error::{Result, StoreError};
pub use format::{
    FileKind, KeySourceDescriptor, KeyringBackend, ShareInfo, ShareParty, CURVE, FORMAT_VERSION,
};
pub use keysource::{
    backup_passphrase_from_env, delete_keyring_key, passphrase_from_env, passphrase_from_env_with,
    probe_keyring, resolve_key_source, resolve_key_source_with, KeySource, KeySourceKind,
    ResolvedKeySource, ENV_BACKUP_PASSPHRASE, ENV_BACKUP_PASSPHRASE_FILE, ENV_KEY_SOURCE,
    ENV_PASSPHRASE, ENV_PASSPHRASE_FILE, KEYRING_SERVICE,
};
pub use lock::{lock, lock_path, lock_status, unlock, LockRecord};
pub use platform_fs::FileStamp;
pub use rotation::{discard_next, next_path, pending_next, promote_next, stage_next};
pub use sealed::SealedShare;
pub use secret::Passphrase;
pub use share::{load_share, load_unlocked, read_info, save_share, Expect, LoadedShare, ShareMeta};
pub use store::{FileStore, KeyShareStore};
pub use strength::{check_new_passphrase, WeakPassphrase, MIN_PASSPHRASE_SCORE};
