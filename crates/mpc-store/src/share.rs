//! Saving and loading one share file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::atomic::{self, Overwrite};
use crate::crypto::KeyCheck;
use crate::error::{Result, StoreError};
use crate::format::{self, FileKind, KeySourceDescriptor, ShareInfo, ShareParty, CURVE};
use crate::keysource::{self, KeySource};
use crate::lock;
use crate::secret::{DataKey, Passphrase};

/// What the caller knows about a share it is about to save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareMeta {
    pub wallet_id: String,
    pub party: ShareParty,
    pub share_version: u32,
    /// Compressed secp256k1 public key, hex (with or without `0x`).
    pub public_key: String,
    pub metadata: BTreeMap<String, String>,
}

/// A decrypted share: authenticated header plus the opaque share bytes.
pub struct LoadedShare {
    pub info: ShareInfo,
    pub plaintext: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for LoadedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedShare")
            .field("info", &self.info)
            .field(
                "plaintext",
                &format_args!("<{} bytes redacted>", self.plaintext.len()),
            )
            .finish()
    }
}

/// What a loaded file must be; `None` fields are not checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expect<'a> {
    pub party: Option<ShareParty>,
    pub wallet_id: Option<&'a str>,
}

impl<'a> Expect<'a> {
    pub fn party(party: ShareParty) -> Self {
        Self {
            party: Some(party),
            wallet_id: None,
        }
    }

    pub fn wallet(mut self, wallet_id: &'a str) -> Self {
        self.wallet_id = Some(wallet_id);
        self
    }
}

/// Encrypts `plaintext` under `source` and writes it atomically (mode 0600) to `path`.
/// With a keyring source, the key is created in (or reused from) the OS keyring.
/// Blocking (keyring over D-Bus, Argon2id, fsync): from async code use `spawn_blocking`.
pub fn save_share(
    path: &Path,
    meta: &ShareMeta,
    plaintext: &[u8],
    source: &KeySource,
    overwrite: Overwrite,
) -> Result<ShareInfo> {
    write_new(path, FileKind::Share, meta, plaintext, source, overwrite)
}

/// Decrypts and checks a share file. `passphrase` is needed only when the header
/// says the file is passphrase-encrypted (see [`read_info`]).
pub fn load_share(
    path: &Path,
    expect: Expect<'_>,
    passphrase: Option<&Passphrase>,
) -> Result<LoadedShare> {
    open_file(path, FileKind::Share, expect, passphrase).map(|(share, _)| share)
}

/// Like [`load_share`], but refuses a locked wallet with `WalletLocked`: use it for signing.
pub fn load_unlocked(
    path: &Path,
    expect: Expect<'_>,
    passphrase: Option<&Passphrase>,
) -> Result<LoadedShare> {
    if let Some(record) = lock::lock_status(path)? {
        return Err(StoreError::WalletLocked {
            path: path.into(),
            reason: record.reason,
            evidence: record.evidence,
        });
    }
    load_share(path, expect, passphrase)
}

/// The header of a share or backup file, without decrypting it. NOT authenticated:
/// use it to decide whether to prompt for a passphrase, trust it only after a load.
pub fn read_info(path: &Path) -> Result<ShareInfo> {
    let bytes = format::read_file(path)?;
    Ok(format::parse(path, &bytes)?.info)
}

pub(crate) fn write_new(
    path: &Path,
    kind: FileKind,
    meta: &ShareMeta,
    plaintext: &[u8],
    source: &KeySource,
    overwrite: Overwrite,
) -> Result<ShareInfo> {
    validate_wallet_id(&meta.wallet_id)?;
    if overwrite == Overwrite::Refuse && path.symlink_metadata().is_ok() {
        // Checked before touching the keyring or running Argon2id.
        return Err(StoreError::AlreadyExists { path: path.into() });
    }
    let (bytes, info) = seal(kind, meta, plaintext, source)?;
    atomic::write_atomic(path, &bytes, overwrite)?;
    Ok(info)
}

/// A new container for `plaintext` under a new key from `source`: the
/// complete file bytes and their header.
pub(crate) fn seal(
    kind: FileKind,
    meta: &ShareMeta,
    plaintext: &[u8],
    source: &KeySource,
) -> Result<(Vec<u8>, ShareInfo)> {
    validate_wallet_id(&meta.wallet_id)?;
    let public_key = normalize_public_key(&meta.public_key)?;
    let (key, key_source) = keysource::new_file_key(source, meta.party, &meta.wallet_id)?;
    let mut info = ShareInfo {
        kind,
        wallet_id: meta.wallet_id.clone(),
        party: meta.party,
        curve: CURVE.into(),
        share_version: meta.share_version,
        public_key,
        metadata: meta.metadata.clone(),
        key_source,
        key_check: KeyCheck::new(&key),
        ciphertext_len: 0,
    };
    let bytes = format::encode(&mut info, &key, plaintext);
    Ok((bytes, info))
}

pub(crate) fn write_with_key(
    path: &Path,
    info: &mut ShareInfo,
    key: &DataKey,
    plaintext: &[u8],
    overwrite: Overwrite,
) -> Result<()> {
    let bytes = format::encode(info, key, plaintext);
    atomic::write_atomic(path, &bytes, overwrite)
}

/// Parses, checks identity, unlocks the key, and decrypts. Returns the key too,
/// so rotation can re-encrypt under it.
pub(crate) fn open_file(
    path: &Path,
    kind: FileKind,
    expect: Expect<'_>,
    passphrase: Option<&Passphrase>,
) -> Result<(LoadedShare, DataKey)> {
    let bytes = format::read_file(path)?;
    open_bytes(path, &bytes, kind, expect, passphrase)
}

/// [`open_file`] of a container already in memory; `path` names it in errors.
pub(crate) fn open_bytes(
    path: &Path,
    bytes: &[u8],
    kind: FileKind,
    expect: Expect<'_>,
    passphrase: Option<&Passphrase>,
) -> Result<(LoadedShare, DataKey)> {
    let container = format::parse(path, bytes)?;
    // Checked before asking for keys, to fail fast on the wrong file; the AEAD
    // below then authenticates these very header bytes.
    check_identity(path, &container.info, kind, expect)?;
    let key = unlock_key(path, &container.info, passphrase)?;
    let plaintext = container
        .decrypt(&key)
        .ok_or_else(|| StoreError::Tampered {
            path: path.into(),
            detail: "authentication failed with the right key: header or ciphertext changed".into(),
        })?;
    let share = LoadedShare {
        info: container.info,
        plaintext,
    };
    Ok((share, key))
}

fn check_identity(path: &Path, info: &ShareInfo, kind: FileKind, expect: Expect<'_>) -> Result<()> {
    if info.kind != kind {
        return Err(StoreError::WrongKind {
            path: path.into(),
            expected: kind,
            found: info.kind,
        });
    }
    if let Some(party) = expect.party.filter(|p| *p != info.party) {
        return Err(StoreError::WrongParty {
            path: path.into(),
            expected: party,
            found: info.party,
        });
    }
    if let Some(wallet_id) = expect.wallet_id.filter(|w| *w != info.wallet_id) {
        return Err(StoreError::WrongWallet {
            path: path.into(),
            expected: wallet_id.into(),
            found: info.wallet_id.clone(),
        });
    }
    Ok(())
}

fn unlock_key(path: &Path, info: &ShareInfo, passphrase: Option<&Passphrase>) -> Result<DataKey> {
    let tampered = |detail: String| StoreError::Tampered {
        path: path.into(),
        detail,
    };
    let (key, wrong_key) = match &info.key_source {
        KeySourceDescriptor::Passphrase { argon2id } => {
            let passphrase =
                passphrase.ok_or_else(|| StoreError::PassphraseRequired { path: path.into() })?;
            let key = argon2id.derive(passphrase).map_err(tampered)?;
            (key, StoreError::WrongPassphrase { path: path.into() })
        }
        KeySourceDescriptor::Keyring {
            backend,
            service,
            user,
        } => {
            let key = keysource::keyring_key(path, *backend, service, user)?;
            let wrong = StoreError::WrongKeyringKey {
                path: path.into(),
                service: service.clone(),
                user: user.clone(),
            };
            (key, wrong)
        }
    };
    match info.key_check.matches(&key) {
        Ok(true) => Ok(key),
        Ok(false) => Err(wrong_key),
        Err(detail) => Err(tampered(detail)),
    }
}

/// The header of `current`'s refreshed share: the same but `new_version`,
/// which must be greater.
pub(crate) fn next_version(current: &ShareInfo, new_version: u32) -> Result<ShareInfo> {
    if new_version <= current.share_version {
        return Err(StoreError::VersionNotIncreasing {
            current: current.share_version,
            requested: new_version,
        });
    }
    Ok(ShareInfo {
        share_version: new_version,
        ..current.clone()
    })
}

/// Wallet ids become file names and keyring user names: keep them plain.
pub(crate) fn validate_wallet_id(wallet_id: &str) -> Result<()> {
    let invalid = |reason| StoreError::InvalidWalletId {
        wallet_id: wallet_id.into(),
        reason,
    };
    if wallet_id.is_empty() || wallet_id.len() > 128 {
        return Err(invalid("must be 1 to 128 characters"));
    }
    if wallet_id.starts_with('.') {
        return Err(invalid("must not start with '.'"));
    }
    if !wallet_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(invalid(
            "only ASCII letters, digits, '-', '_' and '.' are allowed",
        ));
    }
    Ok(())
}

fn normalize_public_key(public_key: &str) -> Result<String> {
    let invalid = |detail: &str| StoreError::InvalidPublicKey {
        detail: detail.into(),
    };
    let hex_part = public_key.strip_prefix("0x").unwrap_or(public_key);
    let bytes = hex::decode(hex_part).map_err(|_| invalid("not hex"))?;
    match bytes.first() {
        Some(0x02 | 0x03) if bytes.len() == 33 => Ok(hex::encode(bytes)),
        _ => Err(invalid("wrong length or prefix")),
    }
}
