//! Composition of vetted primitives: Argon2id for passphrases, AES-256-GCM for
//! files, and a GMAC "key check" that tells a wrong key apart from a modified
//! file.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::secret::{DataKey, Passphrase};

pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;
const SALT_LEN: usize = 16;
const KEY_CHECK_AAD: &[u8] = b"mpc-store key check v1";

/// Argon2id cost used for new files: OWASP's minimum recommendation.
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;
/// Upper bounds accepted from a file header, which is read before it can be
/// authenticated: a tampered file must not make a load allocate gigabytes or
/// spin for minutes. Far above what this project writes (19 MiB, t = 2).
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

/// Argon2id salt and cost, stored in the header of passphrase-encrypted files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argon2idParams {
    /// Hex-encoded random salt.
    pub salt: String,
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Argon2idParams {
    /// Fresh random salt with the default cost.
    pub(crate) fn generate() -> Self {
        Self {
            salt: hex::encode(random_bytes::<SALT_LEN>()),
            m_cost_kib: ARGON2_M_COST_KIB,
            t_cost: ARGON2_T_COST,
            p_cost: ARGON2_P_COST,
        }
    }

    /// Derives the data key; `Err` describes why the stored parameters are unusable.
    pub(crate) fn derive(&self, passphrase: &Passphrase) -> Result<DataKey, String> {
        if self.m_cost_kib > MAX_M_COST_KIB || self.t_cost > MAX_T_COST || self.p_cost > MAX_P_COST
        {
            return Err("Argon2id cost out of range".into());
        }
        let salt = hex::decode(&self.salt).map_err(|_| "Argon2id salt is not hex".to_string())?;
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| format!("Argon2id parameters: {e}"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.expose(), &salt, key.as_mut())
            .map_err(|e| format!("Argon2id: {e}"))?;
        Ok(key)
    }
}

/// A GMAC tag over a fixed label under the data key. Checking it before
/// decrypting tells "wrong key" (passphrase or keyring entry) apart from
/// "right key, modified file".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCheck {
    nonce: String,
    tag: String,
}

impl KeyCheck {
    pub(crate) fn new(key: &DataKey) -> Self {
        let nonce = random_bytes::<NONCE_LEN>();
        let tag = seal(key, &nonce, KEY_CHECK_AAD, &[]);
        Self {
            nonce: hex::encode(nonce),
            tag: hex::encode(tag),
        }
    }

    /// `Ok(true)` when `key` is the key this check was made with; `Err` when the
    /// stored check itself is malformed.
    pub(crate) fn matches(&self, key: &DataKey) -> Result<bool, String> {
        let nonce: [u8; NONCE_LEN] = hex::decode(&self.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or("key check nonce is malformed")?;
        let tag = hex::decode(&self.tag).map_err(|_| "key check tag is not hex")?;
        Ok(open(key, &nonce, KEY_CHECK_AAD, &tag).is_some())
    }
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

pub(crate) fn random_key() -> DataKey {
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(key.as_mut());
    key
}

pub(crate) fn seal(
    key: &DataKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    Aes256Gcm::new(key.as_ref().into())
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail")
}

/// `None` when authentication fails.
pub(crate) fn open(
    key: &DataKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    Aes256Gcm::new(key.as_ref().into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_from_an_unauthenticated_header_are_bounded() {
        let passphrase = Passphrase::new(Zeroizing::new("pw".to_owned())).unwrap();
        let hostile = Argon2idParams {
            m_cost_kib: MAX_M_COST_KIB + 1,
            ..Argon2idParams::generate()
        };
        let started = std::time::Instant::now();
        assert_eq!(
            hostile.derive(&passphrase).unwrap_err(),
            "Argon2id cost out of range"
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        let spinning = Argon2idParams {
            t_cost: MAX_T_COST + 1,
            ..Argon2idParams::generate()
        };
        assert!(spinning.derive(&passphrase).is_err());
        assert!(Argon2idParams::generate().derive(&passphrase).is_ok());
    }
}
