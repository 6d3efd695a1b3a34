//! Static public keys as people compare them: a short fingerprint, and the
//! key (or fingerprint) a caller expects a peer to have.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::SessionError;

/// A short digest of a static X25519 public key, for comparing keys out of
/// band (read over the phone, pasted from the operator's `mpc-cosigner
/// identity`): the first 16 bytes of SHA-256 over the 32 raw key bytes, as
/// eight groups of four lower-case hex digits, `3f2a:91c0:…:7d1e`.
///
/// Plain SHA-256 so anyone can recompute it with standard tools
/// (`echo -n KEY_HEX | xxd -r -p | sha256sum | cut -c1-32`); 128 bits leave
/// no practical second preimage, so a matching fingerprint means the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; Fingerprint::LEN]);

impl Fingerprint {
    const LEN: usize = 16;

    /// The fingerprint of `public_key`.
    pub fn of(public_key: &[u8; 32]) -> Fingerprint {
        let digest = Sha256::digest(public_key);
        let mut bytes = [0u8; Fingerprint::LEN];
        bytes.copy_from_slice(&digest[..Fingerprint::LEN]);
        Fingerprint(bytes)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.0.chunks(2).enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            f.write_str(&hex::encode(group))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The static key a caller expects its peer to have, as an operator hands it
/// out: the whole public key (64 hex digits, `0x` optional) or its
/// [`Fingerprint`] (32 hex digits, colons optional). Case does not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedKey {
    /// The whole X25519 public key.
    PublicKey([u8; 32]),
    /// Its fingerprint.
    Fingerprint(Fingerprint),
}

impl ExpectedKey {
    /// Whether `public_key` is the expected key.
    pub fn matches(&self, public_key: &[u8; 32]) -> bool {
        match self {
            ExpectedKey::PublicKey(expected) => expected == public_key,
            ExpectedKey::Fingerprint(expected) => *expected == Fingerprint::of(public_key),
        }
    }

    /// The expected key's fingerprint, to show beside the one found.
    pub fn fingerprint(&self) -> Fingerprint {
        match self {
            ExpectedKey::PublicKey(key) => Fingerprint::of(key),
            ExpectedKey::Fingerprint(fingerprint) => *fingerprint,
        }
    }
}

impl FromStr for ExpectedKey {
    type Err = SessionError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = || SessionError::InvalidPeerKey {
            value: value.to_owned(),
        };
        let trimmed = value.trim();
        let (digits, prefixed) = match trimmed.strip_prefix("0x") {
            Some(digits) => (digits, true),
            None => (trimmed, false),
        };
        // Colons only in a fingerprint, `0x` only before a whole key.
        if !digits.contains(':') {
            if let Some(key) = decode::<32>(digits) {
                return Ok(ExpectedKey::PublicKey(key));
            }
        }
        if prefixed {
            return Err(invalid());
        }
        let compact: String = digits.chars().filter(|c| *c != ':').collect();
        decode::<{ Fingerprint::LEN }>(&compact)
            .map(|bytes| ExpectedKey::Fingerprint(Fingerprint(bytes)))
            .ok_or_else(invalid)
    }
}

fn decode<const N: usize>(digits: &str) -> Option<[u8; N]> {
    hex::decode(digits).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // SHA-256 of 32 zero bytes starts 66687aadf862bd776c8fc18b8e9f8e20.
    const ZERO_KEY_FINGERPRINT: &str = "6668:7aad:f862:bd77:6c8f:c18b:8e9f:8e20";

    #[test]
    fn fingerprint_is_the_first_half_of_sha256_in_groups_of_four() {
        assert_eq!(Fingerprint::of(&[0; 32]).to_string(), ZERO_KEY_FINGERPRINT);
        assert_eq!(
            serde_json::to_value(Fingerprint::of(&[0; 32])).unwrap(),
            ZERO_KEY_FINGERPRINT
        );
        assert_ne!(Fingerprint::of(&[1; 32]), Fingerprint::of(&[0; 32]));
    }

    #[test]
    fn expected_key_takes_a_key_or_a_fingerprint_in_any_spelling() {
        let key = [0xab; 32];
        let other = [0xcd; 32];
        let key_hex = hex::encode(key);
        let fingerprint = Fingerprint::of(&key).to_string();
        for spelling in [
            key_hex.clone(),
            format!("0x{key_hex}"),
            key_hex.to_uppercase(),
            fingerprint.clone(),
            fingerprint.replace(':', ""),
            fingerprint.to_uppercase(),
            format!(" {fingerprint}\n"),
        ] {
            let expected: ExpectedKey = spelling.parse().unwrap();
            assert!(expected.matches(&key), "{spelling}");
            assert!(!expected.matches(&other), "{spelling}");
            assert_eq!(expected.fingerprint(), Fingerprint::of(&key), "{spelling}");
        }
        assert_eq!(
            key_hex.parse::<ExpectedKey>().unwrap(),
            ExpectedKey::PublicKey(key)
        );
    }

    #[test]
    fn expected_key_refuses_anything_else() {
        let fingerprint = Fingerprint::of(&[0xab; 32]).to_string();
        for bad in [
            String::new(),
            "not a key".to_owned(),
            "ab".repeat(31),
            "ab".repeat(33),
            format!("0x{}", fingerprint.replace(':', "")),
            format!("g{}", &fingerprint[1..]),
            format!("{}:", "ab".repeat(32)),
        ] {
            let error = bad.parse::<ExpectedKey>().unwrap_err();
            assert!(
                matches!(error, SessionError::InvalidPeerKey { .. }),
                "{bad}: {error}"
            );
        }
    }
}
