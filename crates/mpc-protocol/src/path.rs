//! BIP-32 derivation paths. Only non-hardened steps exist here: hardened
//! derivation needs the whole private key, which no party ever holds.

use std::fmt;
use std::str::FromStr;

/// First hardened index (2^31); every index below it is a normal child.
const HARDENED_OFFSET: u32 = 1 << 31;

/// A non-hardened BIP-32 path such as `m/0/7`; `m` alone is the master key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DerivationPath(Vec<u32>);

/// Why a path string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("derivation path must start with \"m\", e.g. \"m/0/7\"; got {0:?}")]
    MissingMaster(String),
    #[error(
        "hardened step {0:?} is not supported: a 2-of-2 wallet can only derive non-hardened \
         children (use e.g. \"m/0/7\")"
    )]
    Hardened(String),
    #[error("path step {0:?} is not a child index below 2^31")]
    InvalidIndex(String),
    #[error("derivation path has more than 255 steps")]
    TooDeep,
}

impl DerivationPath {
    /// The master key itself (`m`).
    pub fn master() -> Self {
        DerivationPath(Vec::new())
    }

    pub fn is_master(&self) -> bool {
        self.0.is_empty()
    }

    /// The child indices, from the master down.
    pub fn indices(&self) -> &[u32] {
        &self.0
    }
}

impl FromStr for DerivationPath {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Self, PathError> {
        let mut steps = text.trim().split('/');
        if steps.next() != Some("m") {
            return Err(PathError::MissingMaster(text.to_owned()));
        }
        let indices = steps
            .map(|step| {
                if step.ends_with(['\'', 'h', 'H']) {
                    return Err(PathError::Hardened(step.to_owned()));
                }
                // Digits only: `u32::from_str` would also take a leading '+'.
                if step.is_empty() || !step.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(PathError::InvalidIndex(step.to_owned()));
                }
                match step.parse::<u32>() {
                    Ok(index) if index < HARDENED_OFFSET => Ok(index),
                    Ok(_) => Err(PathError::Hardened(step.to_owned())),
                    Err(_) => Err(PathError::InvalidIndex(step.to_owned())),
                }
            })
            .collect::<Result<Vec<u32>, PathError>>()?;
        if indices.len() > usize::from(u8::MAX) {
            return Err(PathError::TooDeep);
        }
        Ok(DerivationPath(indices))
    }
}

impl fmt::Display for DerivationPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("m")?;
        for index in &self.0 {
            write!(f, "/{index}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_normal_paths() {
        let path: DerivationPath = "m/0/7".parse().unwrap();
        assert_eq!(path.indices(), &[0, 7]);
        assert_eq!(path.to_string(), "m/0/7");
        assert!("m".parse::<DerivationPath>().unwrap().is_master());
        let deepest: DerivationPath = "m/2147483647".parse().unwrap();
        assert_eq!(deepest.indices(), &[HARDENED_OFFSET - 1]);
    }

    #[test]
    fn rejects_hardened_and_malformed_paths() {
        for hardened in ["m/44'/60'", "m/0h", "m/2147483648"] {
            assert!(matches!(
                hardened.parse::<DerivationPath>(),
                Err(PathError::Hardened(_))
            ));
        }
        assert!(matches!(
            "0/7".parse::<DerivationPath>(),
            Err(PathError::MissingMaster(_))
        ));
        for bad in ["m/", "m/x", "m/+1", "m//1", "m/-1", "m/99999999999"] {
            assert!(matches!(
                bad.parse::<DerivationPath>(),
                Err(PathError::InvalidIndex(_))
            ));
        }
        let too_deep = format!("m{}", "/1".repeat(256));
        assert_eq!(too_deep.parse::<DerivationPath>(), Err(PathError::TooDeep));
    }
}
