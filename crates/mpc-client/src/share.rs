//! The client's share file. Its plaintext holds the protocol key share and
//! the client's Noise identity key, encrypted together; its authenticated
//! header pins the co-signer's identity, so a swapped co-signer key cannot go
//! unnoticed.

use std::path::{Path, PathBuf};

use mpc_api::PROTOCOL;
use mpc_protocol::KeyShare;
use mpc_session::Identity;
use mpc_store::{pairing, Expect, KeySource, Overwrite, Passphrase, ShareInfo, ShareParty};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The plaintext of a client share file.
#[derive(Serialize, Deserialize)]
struct Secrets {
    key_share: ByteBuf,
    identity: ByteBuf,
}

impl Drop for Secrets {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.key_share.as_mut_slice().zeroize();
        self.identity.as_mut_slice().zeroize();
    }
}

/// A decrypted client share, ready for a session.
pub(crate) struct ClientShare {
    pub path: PathBuf,
    pub wallet_id: String,
    pub version: u32,
    pub share: KeyShare,
    pub identity: Identity,
    pub cosigner_pub: [u8; 32],
}

fn plaintext(share: &KeyShare, identity: &Identity) -> Zeroizing<Vec<u8>> {
    let secrets = Secrets {
        key_share: ByteBuf::from(share.to_cbor().to_vec()),
        identity: ByteBuf::from(identity.to_bytes().to_vec()),
    };
    mpc_cbor::encode_secret(&secrets)
}

fn corrupt(path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::ShareCorrupt {
        path: path.to_owned(),
        detail: detail.to_string(),
    }
}

/// Parses a decrypted client share (also used to verify backups).
pub(crate) fn parse(path: &Path, info: &ShareInfo, bytes: &[u8]) -> Result<ClientShare> {
    let secrets: Secrets =
        mpc_cbor::decode("client share secrets", bytes).map_err(|e| corrupt(path, e))?;
    let share = KeyShare::from_cbor(&secrets.key_share).map_err(|e| corrupt(path, e))?;
    let identity_bytes: &[u8; 32] = secrets
        .identity
        .as_slice()
        .try_into()
        .map_err(|_| corrupt(path, "identity key is not 32 bytes"))?;
    let identity = Identity::from_bytes(identity_bytes).map_err(|e| corrupt(path, e))?;
    let cosigner_pub =
        pairing::pinned_peer(info).ok_or_else(|| corrupt(path, "no pinned co-signer identity"))?;
    if hex::encode(share.public_key().to_compressed()) != info.public_key {
        return Err(corrupt(
            path,
            "the key share does not match the header's public key",
        ));
    }
    Ok(ClientShare {
        path: path.to_owned(),
        wallet_id: info.wallet_id.clone(),
        version: info.share_version,
        share,
        identity,
        cosigner_pub,
    })
}

impl ClientShare {
    /// The same wallet, path and identity with a refreshed key share.
    pub(crate) fn refreshed(&self, share: KeyShare, version: u32) -> Result<ClientShare> {
        Ok(ClientShare {
            path: self.path.clone(),
            wallet_id: self.wallet_id.clone(),
            version,
            share,
            identity: Identity::from_bytes(&self.identity.to_bytes())?,
            cosigner_pub: self.cosigner_pub,
        })
    }
}

/// Writes a new wallet's client share.
pub(crate) fn save_new(
    path: &Path,
    wallet_id: &str,
    share: &KeyShare,
    identity: &Identity,
    cosigner_pub: &[u8; 32],
    source: &KeySource,
    overwrite: Overwrite,
) -> Result<()> {
    let meta = pairing::new_share_meta(
        wallet_id,
        ShareParty::Client,
        &share.public_key().to_compressed(),
        PROTOCOL,
        cosigner_pub,
    );
    mpc_store::save_share(path, &meta, &plaintext(share, identity), source, overwrite)?;
    Ok(())
}

/// Loads a client share for use; a locked wallet is refused.
pub(crate) fn load(path: &Path, passphrase: Option<&Passphrase>) -> Result<ClientShare> {
    let loaded = mpc_store::load_unlocked(path, Expect::party(ShareParty::Client), passphrase)?;
    parse(path, &loaded.info, &loaded.plaintext)
}

/// Stages a refreshed share beside the current one (same key, same identity).
pub(crate) fn stage_refreshed(
    current: &ClientShare,
    new_share: &KeyShare,
    new_version: u32,
    passphrase: Option<&Passphrase>,
) -> Result<()> {
    mpc_store::stage_next(
        &current.path,
        &plaintext(new_share, &current.identity),
        new_version,
        passphrase,
    )?;
    Ok(())
}
