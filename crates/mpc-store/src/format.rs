//! The on-disk container: `magic | format version | header length | CBOR header | nonce | AES-256-GCM ciphertext`.
//! See the crate documentation for the byte layout.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::crypto::{self, Argon2idParams, KeyCheck, NONCE_LEN, TAG_LEN};
use crate::error::{Result, StoreError};
use crate::keyring_backend;
use crate::secret::DataKey;

pub(crate) const MAGIC: &[u8; 8] = b"MPCSHARE";
pub const FORMAT_VERSION: u16 = 1;
pub const CURVE: &str = "secp256k1";
const PREFIX_LEN: usize = MAGIC.len() + 2 + 4;
const MAX_HEADER_LEN: usize = 64 * 1024;
/// Shares are a few KiB; anything far larger is not one of our files.
const MAX_FILE_LEN: u64 = 1024 * 1024;

/// Which side of the 2-of-2 key a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareParty {
    Client,
    Cosigner,
}

impl ShareParty {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareParty::Client => "client",
            ShareParty::Cosigner => "cosigner",
        }
    }
}

impl fmt::Display for ShareParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A live share file, or a portable passphrase-only backup of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Share,
    Backup,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Share => "share",
            FileKind::Backup => "backup",
        })
    }
}

/// Which OS keyring implementation holds a data key. Every platform's
/// backends are listed on every platform, so a file made elsewhere is
/// reported as such instead of as a header that does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyringBackend {
    /// Linux: freedesktop Secret Service over D-Bus (gnome-keyring, KWallet): persistent.
    SecretService,
    /// Linux: kernel keyutils session keyring: lives until logout/reboot.
    KernelKeyutils,
    /// macOS: the user's login keychain.
    MacosKeychain,
    /// Windows: generic credentials of the Credential Manager.
    WindowsCredentialManager,
}

impl KeyringBackend {
    /// The persistent keyring of the running platform, which new
    /// keyring-encrypted files use; `None` where mpc-store supports none
    /// (there, only the passphrase key source works).
    pub fn native() -> Option<Self> {
        keyring_backend::NATIVE
    }

    /// The name in file headers, e.g. `secret-service`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyringBackend::SecretService => "secret-service",
            KeyringBackend::KernelKeyutils => "kernel-keyutils",
            KeyringBackend::MacosKeychain => "macos-keychain",
            KeyringBackend::WindowsCredentialManager => "windows-credential-manager",
        }
    }
}

impl fmt::Display for KeyringBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the data key of a file comes from; stored in the header so loading
/// needs no flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum KeySourceDescriptor {
    Keyring {
        backend: KeyringBackend,
        service: String,
        user: String,
    },
    Passphrase {
        argon2id: Argon2idParams,
    },
}

/// The file header: everything about a share except the share itself.
/// Authenticated as AEAD associated data, so any change fails decryption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub kind: FileKind,
    pub wallet_id: String,
    pub party: ShareParty,
    pub curve: String,
    /// Incremented by every key refresh, so both parties can compare.
    pub share_version: u32,
    /// Compressed secp256k1 public key of the whole wallet, lowercase hex.
    pub public_key: String,
    /// Caller's data (e.g. pinned peer identity key, protocol name).
    pub metadata: BTreeMap<String, String>,
    pub key_source: KeySourceDescriptor,
    pub(crate) key_check: KeyCheck,
    /// Lets a cut-off file be reported as truncated rather than tampered.
    pub(crate) ciphertext_len: u64,
}

/// A parsed but not yet decrypted file.
pub(crate) struct Container<'a> {
    pub info: ShareInfo,
    aad: &'a [u8],
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

/// Sets `info.ciphertext_len` and returns the complete file.
pub(crate) fn encode(info: &mut ShareInfo, key: &DataKey, plaintext: &[u8]) -> Vec<u8> {
    info.ciphertext_len = (plaintext.len() + TAG_LEN) as u64;
    let header = mpc_cbor::encode(info);
    let mut out =
        Vec::with_capacity(PREFIX_LEN + header.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    let nonce = crypto::random_bytes::<NONCE_LEN>();
    let ciphertext = crypto::seal(key, &nonce, &out, plaintext);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Reads a share file: only a regular file (a FIFO or device named as a
/// share must not hang or exhaust the reader), and at most `MAX_FILE_LEN`.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let not_found = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => StoreError::NotFound { path: path.into() },
        _ => StoreError::io("read", path, e),
    };
    let not_a_share = || StoreError::NotAShareFile { path: path.into() };
    // Checked before opening: opening a FIFO blocks until a writer appears.
    if !std::fs::metadata(path).map_err(not_found)?.is_file() {
        return Err(not_a_share());
    }
    let file = std::fs::File::open(path).map_err(not_found)?;
    // And again on what was opened, in case the name was swapped meanwhile.
    let opened = file.metadata().map_err(not_found)?;
    if !opened.is_file() || opened.len() > MAX_FILE_LEN {
        return Err(not_a_share());
    }
    let mut bytes = Vec::with_capacity(opened.len() as usize);
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(not_found)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(not_a_share());
    }
    Ok(bytes)
}

pub(crate) fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<Container<'a>> {
    let truncated = |detail: String| StoreError::Truncated {
        path: path.into(),
        detail,
    };
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(StoreError::NotAShareFile { path: path.into() });
    }
    if bytes.len() < PREFIX_LEN {
        return Err(truncated(format!(
            "{} bytes, shorter than the fixed prefix",
            bytes.len()
        )));
    }
    let version = u16::from_be_bytes([bytes[8], bytes[9]]);
    if version != FORMAT_VERSION {
        return Err(StoreError::UnknownFormatVersion {
            path: path.into(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let header_len = u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
    if header_len > MAX_HEADER_LEN {
        return Err(StoreError::Tampered {
            path: path.into(),
            detail: format!("header length {header_len} is implausible"),
        });
    }
    let header_end = PREFIX_LEN + header_len;
    if bytes.len() < header_end + NONCE_LEN + TAG_LEN {
        return Err(truncated(format!(
            "{} bytes, the header alone announces {header_end} plus nonce and tag",
            bytes.len()
        )));
    }
    let info: ShareInfo = mpc_cbor::decode("share file header", &bytes[PREFIX_LEN..header_end])
        .map_err(|e| StoreError::Tampered {
            path: path.into(),
            detail: e.to_string(),
        })?;
    if info.curve != CURVE {
        return Err(StoreError::Tampered {
            path: path.into(),
            detail: format!("unsupported curve {:?}", info.curve),
        });
    }
    let ciphertext = &bytes[header_end + NONCE_LEN..];
    if (ciphertext.len() as u64) < info.ciphertext_len {
        return Err(truncated(format!(
            "ciphertext has {} of {} bytes",
            ciphertext.len(),
            info.ciphertext_len
        )));
    }
    if ciphertext.len() as u64 > info.ciphertext_len {
        return Err(StoreError::Tampered {
            path: path.into(),
            detail: "unexpected bytes after the ciphertext".into(),
        });
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[header_end..header_end + NONCE_LEN]);
    Ok(Container {
        info,
        aad: &bytes[..header_end],
        nonce,
        ciphertext,
    })
}

impl Container<'_> {
    /// `None` when authentication fails (header or ciphertext changed, or wrong key).
    pub fn decrypt(&self, key: &DataKey) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        crypto::open(key, &self.nonce, self.aad, self.ciphertext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_backend_display_is_its_header_name() {
        for backend in [
            KeyringBackend::SecretService,
            KeyringBackend::KernelKeyutils,
            KeyringBackend::MacosKeychain,
            KeyringBackend::WindowsCredentialManager,
        ] {
            assert_eq!(serde_json::to_value(backend).unwrap(), backend.as_str());
        }
    }
}
