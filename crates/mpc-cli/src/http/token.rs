//! The bearer token of `mpc serve`: 32 random bytes, hex, generated on first
//! start and kept owner-only at `$MPC_HOME/http.token` so local scripts can
//! read it and other users cannot.

use std::path::{Path, PathBuf};

use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::output::{CliError, ExitCode};

const TOKEN_FILE: &str = "http.token";
const TOKEN_BYTES: usize = 32;

/// The token every request must present as `Authorization: Bearer <token>`.
pub struct Token {
    secret: Zeroizing<String>,
    pub path: PathBuf,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("path", &self.path).finish()
    }
}

impl Token {
    /// Reads `$MPC_HOME/http.token`, or creates it (mode 0600) on first start.
    pub fn load_or_create(home: &Path) -> Result<Token, CliError> {
        let path = home.join(TOKEN_FILE);
        let secret = match std::fs::read_to_string(&path) {
            Ok(text) => check_existing(&path, Zeroizing::new(text))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => create(&path)?,
            Err(error) => return Err(token_error(&path, error)),
        };
        Ok(Token { secret, path })
    }

    /// Compares in constant time, so response timing says nothing about
    /// how much of a guess was right.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.secret.as_bytes().ct_eq(presented.as_bytes()))
    }
}

fn check_existing(path: &Path, text: Zeroizing<String>) -> Result<Zeroizing<String>, CliError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| token_error(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(CliError::new(
                "token_file_insecure",
                ExitCode::Failure,
                format!(
                    "{} is readable by other users (mode {:o}): run `chmod 600` on it, or delete it to get a new token",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    let token = Zeroizing::new(text.trim().to_owned());
    if token.len() < 2 * TOKEN_BYTES || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::new(
            "token_file_invalid",
            ExitCode::Failure,
            format!(
                "{} does not hold a {}-character hex token: delete it to get a new one",
                path.display(),
                2 * TOKEN_BYTES
            ),
        ));
    }
    Ok(token)
}

fn create(path: &Path) -> Result<Zeroizing<String>, CliError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| token_error(dir, e))?;
    }
    let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    let token = Zeroizing::new(hex::encode(bytes.as_ref()));
    let line = Zeroizing::new(format!("{}\n", token.as_str()));
    mpc_store::write_private_new(path, line.as_bytes())?;
    tracing::info!(path = %path.display(), "created a new HTTP bearer token");
    Ok(token)
}

fn token_error(path: &Path, error: std::io::Error) -> CliError {
    CliError::new(
        "io",
        ExitCode::Failure,
        format!("cannot use the HTTP token file {}: {error}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_owner_only_then_reused() {
        let home = tempfile::tempdir().unwrap();
        let first = Token::load_or_create(home.path()).unwrap();
        assert_eq!(first.secret.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Token::load_or_create(home.path()).unwrap();
        assert!(again.matches(&first.secret));
        assert!(!again.matches(&first.secret[..63]));
        assert!(!again.matches(""));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_token_others_can_read() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let token = Token::load_or_create(home.path()).unwrap();
        std::fs::set_permissions(&token.path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = Token::load_or_create(home.path()).unwrap_err();
        assert_eq!(error.code, "token_file_insecure");
    }
}
