//! Which clients may create wallets here. Enrolled mode (the default) admits
//! a keygen when the client's key is on the operator's allowlist, or when the
//! request carries a single-use enrollment token the operator issued; open
//! mode admits anyone with the broker's client credentials (the embedded
//! demo). Tokens are kept only as their SHA-256, one file each, so the data
//! dir never holds a usable token.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use mpc_api::RejectionCode;
use mpc_session::{ExpectedKey, Fingerprint, Rejection};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::fleet::enrollment::{FleetEnrollment, HeldToken as FleetToken, Unusable};
use crate::fleet::FleetError;
use crate::wallets::fleet_refusal;

/// Prefix of every token, so one is recognisable in a config or a log.
const TOKEN_PREFIX: &str = "mpc-enroll-";
const ALLOWLIST: &str = "clients.allow";
const TOKENS: &str = "tokens";
/// Suffix of a token file while a keygen holds it.
const IN_USE: &str = ".in-use";

/// How the co-signer admits new wallets.
pub enum Enrollment {
    /// Anyone who can reach it over the broker.
    Open,
    /// Allowlisted client keys and holders of a token, from this folder.
    Enrolled { dir: PathBuf },
    /// The same, from the fleet's enrollment bucket (`--store jetstream`).
    Fleet(FleetEnrollment),
}

/// Why enrollment state cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum EnrollmentError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {reason}")]
    Allowlist {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] mpc_store::StoreError),
    #[error(transparent)]
    Fleet(#[from] FleetError),
}

/// A keygen's admission; [`spend`](Self::spend) it once the wallet exists,
/// drop it otherwise (a token then becomes usable again).
#[must_use]
pub struct Admitted {
    held_token: Option<HeldToken>,
}

/// The token a keygen holds while it runs.
enum HeldToken {
    /// Its file, renamed aside.
    File { file: PathBuf, held: PathBuf },
    /// Its bucket entry, marked held by compare-and-set.
    Fleet(Box<FleetToken>),
}

impl Admitted {
    /// The wallet was created: its token can never be used again.
    pub fn spend(mut self) {
        match self.held_token.take() {
            Some(HeldToken::File { held, .. }) => {
                if let Err(error) = std::fs::remove_file(&held) {
                    tracing::error!(token = %held.display(), %error, "could not remove a used enrollment token");
                }
            }
            Some(HeldToken::Fleet(token)) => {
                tokio::spawn(token.spend());
            }
            None => {}
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        match self.held_token.take() {
            Some(HeldToken::File { file, held }) => {
                if let Err(error) = std::fs::rename(&held, &file) {
                    tracing::error!(token = %held.display(), %error, "could not release an enrollment token");
                }
            }
            Some(HeldToken::Fleet(token)) => {
                tokio::spawn(token.release());
            }
            None => {}
        }
    }
}

impl Enrollment {
    /// Enrolled mode on `dir` (created).
    pub fn enrolled(dir: PathBuf) -> Result<Enrollment, EnrollmentError> {
        let tokens = dir.join(TOKENS);
        std::fs::create_dir_all(&tokens).map_err(|source| EnrollmentError::Io {
            action: "create",
            path: tokens,
            source,
        })?;
        Ok(Enrollment::Enrolled { dir })
    }

    /// Admits `client_pub` to create a wallet, by the allowlist or `token`.
    /// A token is held (no other keygen can use it) until the returned
    /// admission is spent or dropped. Blocking.
    pub fn admit(
        &self,
        client_pub: &[u8; 32],
        token: Option<&str>,
        now: u64,
    ) -> Result<Admitted, Rejection> {
        let admitted = |held| Ok(Admitted { held_token: held });
        let held = match self {
            Enrollment::Open => return admitted(None),
            Enrollment::Enrolled { dir } => {
                let allowlist = read_allowlist(&dir.join(ALLOWLIST)).map_err(internal)?;
                if allowlist.iter().any(|key| key.matches(client_pub)) {
                    return admitted(None);
                }
                hold_file_token(dir, required(client_pub, token)?, now)?
            }
            Enrollment::Fleet(fleet) => {
                if fleet.allowed(client_pub).map_err(fleet_refusal)? {
                    return admitted(None);
                }
                match fleet.hold(&token_id(required(client_pub, token)?), now) {
                    Ok(held) => HeldToken::Fleet(Box::new(held)),
                    Err(Unusable::Token) => return Err(unusable()),
                    Err(Unusable::Fleet(error)) => return Err(fleet_refusal(error)),
                }
            }
        };
        admitted(Some(held))
    }
}

/// The token of a client that is not allowlisted, which it then needs.
fn required<'a>(client_pub: &[u8; 32], token: Option<&'a str>) -> Result<&'a str, Rejection> {
    token.ok_or_else(|| {
        not_enrolled(format!(
            "client key {} is not enrolled on this co-signer: ask its operator for an \
             enrollment token (`mpc-cosigner enroll`) and pass it with `mpc keygen --enroll`",
            Fingerprint::of(client_pub)
        ))
    })
}

fn unusable() -> Rejection {
    not_enrolled("the enrollment token is unknown, used or expired: ask for a new one")
}

/// Holds a token file for one keygen.
fn hold_file_token(dir: &Path, token: &str, now: u64) -> Result<HeldToken, Rejection> {
    let file = dir.join(TOKENS).join(token_id(token));
    let held = PathBuf::from(format!("{}{IN_USE}", file.display()));
    let expires_at: u64 = std::fs::read_to_string(&file)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(unusable)?;
    if now > expires_at {
        let _ = std::fs::remove_file(&file);
        return Err(unusable());
    }
    // The rename is the hold: of two keygens with one token, one wins.
    std::fs::rename(&file, &held).map_err(|_| unusable())?;
    Ok(HeldToken::File { file, held })
}

/// A new single-use token.
fn new_token() -> String {
    let mut secret = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    format!("{TOKEN_PREFIX}{}", hex::encode(secret))
}

/// Issues a single-use token valid for `ttl` in the fleet's bucket, and
/// returns it: any replica admits it.
pub async fn issue_fleet_token(
    fleet: &FleetEnrollment,
    ttl: Duration,
    now: u64,
) -> Result<String, EnrollmentError> {
    let token = new_token();
    fleet
        .issue(&token_id(&token), now.saturating_add(ttl.as_secs()))
        .await?;
    Ok(token)
}

/// Adds a client key (or fingerprint) to the fleet's allowlist; false when
/// it was there already.
pub async fn allow_fleet_client(
    fleet: &FleetEnrollment,
    client: &str,
) -> Result<bool, EnrollmentError> {
    let key = ExpectedKey::from_str(client).map_err(|error| EnrollmentError::Allowlist {
        path: crate::fleet::ENROLLMENT_BUCKET.into(),
        line: 0,
        reason: error.to_string(),
    })?;
    Ok(fleet.allow(&key, client).await?)
}

/// Issues a single-use token valid for `ttl`, and returns it. Blocking.
pub fn issue_token(dir: &Path, ttl: Duration, now: u64) -> Result<String, EnrollmentError> {
    let token = new_token();
    let tokens = dir.join(TOKENS);
    std::fs::create_dir_all(&tokens).map_err(|source| EnrollmentError::Io {
        action: "create",
        path: tokens.clone(),
        source,
    })?;
    let expires_at = now.saturating_add(ttl.as_secs());
    mpc_store::write_private_new(
        &tokens.join(token_id(&token)),
        expires_at.to_string().as_bytes(),
    )?;
    Ok(token)
}

/// Adds a client key (or fingerprint) to the allowlist; false when it was
/// there already. Blocking.
pub fn allow_client(dir: &Path, client: &str) -> Result<bool, EnrollmentError> {
    let path = dir.join(ALLOWLIST);
    let key = ExpectedKey::from_str(client).map_err(|error| EnrollmentError::Allowlist {
        path: path.clone(),
        line: 0,
        reason: error.to_string(),
    })?;
    let mut text = read_text(&path)?;
    if parse_allowlist(&path, &text)?
        .iter()
        .any(|known| known.fingerprint() == key.fingerprint())
    {
        return Ok(false);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(client.trim());
    text.push('\n');
    std::fs::create_dir_all(dir).map_err(|source| EnrollmentError::Io {
        action: "create",
        path: dir.to_owned(),
        source,
    })?;
    mpc_store::write_private(&path, text.as_bytes())?;
    Ok(true)
}

/// The allowlist: one client public key or fingerprint per line, `#` comments.
fn read_allowlist(path: &Path) -> Result<Vec<ExpectedKey>, EnrollmentError> {
    parse_allowlist(path, &read_text(path)?)
}

/// A file's text; empty when there is none.
fn read_text(path: &Path) -> Result<String, EnrollmentError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(EnrollmentError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        }),
    }
}

fn parse_allowlist(path: &Path, text: &str) -> Result<Vec<ExpectedKey>, EnrollmentError> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index, line.split('#').next().unwrap_or("").trim()))
        .filter(|(_, entry)| !entry.is_empty())
        .map(|(index, entry)| {
            ExpectedKey::from_str(entry).map_err(|error| EnrollmentError::Allowlist {
                path: path.to_owned(),
                line: index + 1,
                reason: error.to_string(),
            })
        })
        .collect()
}

/// The file name a token is kept under: its SHA-256, so reading the data dir
/// gives no usable token.
fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

fn not_enrolled(message: impl Into<String>) -> Rejection {
    Rejection::new(RejectionCode::NotEnrolled.as_str(), message)
}

fn internal(error: EnrollmentError) -> Rejection {
    tracing::error!(%error, "could not read the enrollment state");
    Rejection::new(
        RejectionCode::Internal.as_str(),
        "the co-signer could not read its enrollment state; see its logs",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    #[test]
    fn a_token_admits_one_keygen_and_is_released_when_that_keygen_fails() {
        let dir = tempfile::tempdir().unwrap();
        let enrollment = Enrollment::enrolled(dir.path().to_owned()).unwrap();
        let client = [7u8; 32];
        let token = issue_token(dir.path(), Duration::from_secs(60), NOW).unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));

        let held = enrollment.admit(&client, Some(&token), NOW).unwrap();
        let busy = enrollment.admit(&client, Some(&token), NOW).err().unwrap();
        assert_eq!(busy.code, "not_enrolled", "held by the first keygen");
        drop(held);
        enrollment
            .admit(&client, Some(&token), NOW)
            .unwrap()
            .spend();
        let used = enrollment.admit(&client, Some(&token), NOW).err().unwrap();
        assert!(used.message.contains("unknown, used or expired"), "{used}");
        assert!(enrollment.admit(&client, None, NOW).is_err());
    }

    #[test]
    fn an_expired_token_is_refused_and_an_allowlisted_key_needs_none() {
        let dir = tempfile::tempdir().unwrap();
        let enrollment = Enrollment::enrolled(dir.path().to_owned()).unwrap();
        let token = issue_token(dir.path(), Duration::from_secs(60), NOW).unwrap();
        assert!(enrollment.admit(&[1; 32], Some(&token), NOW + 61).is_err());

        let client = [9u8; 32];
        assert!(allow_client(dir.path(), &hex::encode(client)).unwrap());
        assert!(!allow_client(dir.path(), &hex::encode(client)).unwrap());
        let fingerprint = Fingerprint::of(&[3u8; 32]).to_string();
        assert!(allow_client(dir.path(), &fingerprint).unwrap());
        enrollment.admit(&client, None, NOW).unwrap().spend();
        enrollment.admit(&[3; 32], None, NOW).unwrap().spend();
        assert!(enrollment.admit(&[4; 32], None, NOW).is_err());
        assert!(Enrollment::Open.admit(&[4; 32], None, NOW).is_ok());

        std::fs::write(dir.path().join(ALLOWLIST), "# ops\nnot-a-key\n").unwrap();
        let error = read_allowlist(&dir.path().join(ALLOWLIST)).unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }
}
