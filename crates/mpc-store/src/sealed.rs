//! Share containers kept in memory rather than in a file, for stores that
//! are not a file system (the co-signer fleet's JetStream KV bucket). The
//! bytes are exactly a share file's: the same header, key sources and AEAD,
//! the header (wallet, party, version) bound as associated data.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::format::{self, FileKind, ShareInfo};
use crate::keysource::KeySource;
use crate::secret::Passphrase;
use crate::share::{self, Expect, LoadedShare, ShareMeta};

/// One share container and where it lives (`name`, as errors show it: it
/// takes the place of a file's path).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedShare {
    name: PathBuf,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for SealedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedShare")
            .field("name", &self.name)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl SealedShare {
    /// Encrypts a new share under a new key from `source`. Blocking
    /// (Argon2id, or the keyring).
    pub fn seal(
        name: impl Into<PathBuf>,
        meta: &ShareMeta,
        plaintext: &[u8],
        source: &KeySource,
    ) -> Result<(SealedShare, ShareInfo)> {
        let (bytes, info) = share::seal(FileKind::Share, meta, plaintext, source)?;
        let name = name.into();
        Ok((SealedShare { name, bytes }, info))
    }

    /// A container read back from its store; nothing is checked until
    /// [`info`](Self::info) or [`open`](Self::open).
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> SealedShare {
        SealedShare {
            name: name.into(),
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The header, without decrypting: NOT authenticated until [`open`](Self::open).
    pub fn info(&self) -> Result<ShareInfo> {
        Ok(format::parse(&self.name, &self.bytes)?.info)
    }

    /// Decrypts and checks party and wallet. Blocking (Argon2id).
    pub fn open(&self, expect: Expect<'_>, passphrase: Option<&Passphrase>) -> Result<LoadedShare> {
        share::open_bytes(&self.name, &self.bytes, FileKind::Share, expect, passphrase)
            .map(|(share, _)| share)
    }

    /// The refreshed share as a new container under this one's key and
    /// metadata, with `new_version` (which must be greater). Opens this one
    /// to prove the key. Blocking (Argon2id).
    pub fn restage(
        &self,
        plaintext: &[u8],
        new_version: u32,
        passphrase: Option<&Passphrase>,
    ) -> Result<SealedShare> {
        let (current, key) = share::open_bytes(
            &self.name,
            &self.bytes,
            FileKind::Share,
            Expect::default(),
            passphrase,
        )?;
        let mut info = share::next_version(&current.info, new_version)?;
        Ok(SealedShare {
            name: self.name.clone(),
            bytes: format::encode(&mut info, &key, plaintext),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;
    use crate::format::ShareParty;

    fn meta() -> ShareMeta {
        ShareMeta {
            wallet_id: "w1".into(),
            party: ShareParty::Cosigner,
            share_version: 0,
            public_key: format!("02{}", "11".repeat(32)),
            metadata: Default::default(),
        }
    }

    #[test]
    fn sealed_shares_open_restage_and_refuse_tampering() {
        let passphrase = Passphrase::new("a long test passphrase".to_owned()).unwrap();
        let source = KeySource::Passphrase(passphrase.clone());
        let (sealed, info) = SealedShare::seal("kv/w1", &meta(), b"share v0", &source).unwrap();
        assert_eq!(sealed.info().unwrap(), info);
        let expect = Expect::party(ShareParty::Cosigner).wallet("w1");
        let opened = sealed.open(expect, Some(&passphrase)).unwrap();
        assert_eq!(opened.plaintext.as_slice(), b"share v0");

        let next = sealed.restage(b"share v1", 1, Some(&passphrase)).unwrap();
        let opened = next.open(expect, Some(&passphrase)).unwrap();
        assert_eq!(
            (opened.plaintext.as_slice(), opened.info.share_version),
            (&b"share v1"[..], 1)
        );
        assert!(matches!(
            next.restage(b"again", 1, Some(&passphrase)),
            Err(StoreError::VersionNotIncreasing { .. })
        ));

        let other = Expect::party(ShareParty::Cosigner).wallet("w2");
        assert!(matches!(
            sealed.open(other, Some(&passphrase)),
            Err(StoreError::WrongWallet { .. })
        ));
        let mut bytes = sealed.as_bytes().to_vec();
        *bytes.last_mut().unwrap() ^= 1;
        let tampered = SealedShare::from_bytes("kv/w1", bytes);
        assert!(matches!(
            tampered.open(expect, Some(&passphrase)),
            Err(StoreError::Tampered { .. })
        ));
    }
}
