//! Passphrases for shares and backups: from the environment for scripts, or
//! a no-echo prompt on a terminal. Never from a command-line argument. A new
//! one is checked for strength: a weak one typed at the prompt is asked
//! again, one from the environment is used with a warning (scripts go on).

use std::io::IsTerminal;
use std::path::Path;

use mpc_store::{KeySource, KeySourceDescriptor, Passphrase, ResolvedKeySource};
use zeroize::Zeroizing;

use crate::output::{CliError, ExitCode};

/// The key source for a new share file (keygen, backup import), by the
/// CLI contract's rule; a new passphrase is asked twice.
pub fn key_source_for_new(explicit: Option<&str>) -> Result<KeySource, CliError> {
    match mpc_store::resolve_key_source(explicit)? {
        ResolvedKeySource::Ready(KeySource::Passphrase(passphrase)) => {
            // Ready with a passphrase means it came from the environment.
            warn_if_weak(Secret::Share, &passphrase);
            Ok(KeySource::Passphrase(passphrase))
        }
        ResolvedKeySource::Ready(source) => Ok(source),
        ResolvedKeySource::PromptForPassphrase => Ok(KeySource::Passphrase(prompt_new(
            Secret::Share,
            "passphrase for the new share",
        )?)),
    }
}

/// The passphrase needed to open `path`, if its header says it has one.
pub fn passphrase_to_open(path: &Path) -> Result<Option<Passphrase>, CliError> {
    let info = mpc_store::read_info(path)?;
    if !matches!(info.key_source, KeySourceDescriptor::Passphrase { .. }) {
        return Ok(None);
    }
    match mpc_store::passphrase_from_env()? {
        Some(passphrase) => Ok(Some(passphrase)),
        None => prompt(Secret::Share, &format!("passphrase for {}", path.display())).map(Some),
    }
}

/// A backup passphrase: `MPC_BACKUP_PASSPHRASE[_FILE]`, else a prompt
/// (twice when `new`).
pub fn backup_passphrase(new: bool) -> Result<Passphrase, CliError> {
    match mpc_store::backup_passphrase_from_env()? {
        Some(passphrase) => {
            if new {
                warn_if_weak(Secret::Backup, &passphrase);
            }
            Ok(passphrase)
        }
        None if new => prompt_new(Secret::Backup, "backup passphrase"),
        None => prompt(Secret::Backup, "backup passphrase"),
    }
}

/// Which passphrase a prompt asks for, so a missing one names its own variables.
#[derive(Clone, Copy)]
enum Secret {
    Share,
    Backup,
}

impl Secret {
    fn noun(self) -> &'static str {
        match self {
            Secret::Share => "share",
            Secret::Backup => "backup",
        }
    }

    fn variables(self) -> &'static str {
        match self {
            Secret::Share => "MPC_PASSPHRASE or MPC_PASSPHRASE_FILE",
            Secret::Backup => "MPC_BACKUP_PASSPHRASE or MPC_BACKUP_PASSPHRASE_FILE",
        }
    }
}

fn prompt(secret: Secret, what: &str) -> Result<Passphrase, CliError> {
    Ok(Passphrase::new(read_hidden(secret, what)?)?)
}

/// How often a weak new passphrase is asked for before giving up, as passwd does.
const NEW_PASSPHRASE_ATTEMPTS: usize = 3;

/// A new passphrase, typed twice; a weak one is refused with zxcvbn's advice
/// and asked for again.
fn prompt_new(secret: Secret, what: &str) -> Result<Passphrase, CliError> {
    let mut attempt = 1;
    loop {
        let first = read_hidden(secret, what)?;
        let passphrase = Passphrase::new(first.clone())?;
        match mpc_store::check_new_passphrase(&passphrase) {
            Err(weak) if attempt < NEW_PASSPHRASE_ATTEMPTS => {
                eprintln!("That {what} is {weak}\nTry another: a few unrelated words work well.");
                attempt += 1;
            }
            Err(weak) => {
                return Err(CliError::new(
                    "passphrase_weak",
                    ExitCode::Usage,
                    format!("the {what} is {weak} Gave up after {attempt} tries."),
                ))
            }
            Ok(()) => {
                let again = read_hidden(secret, &format!("{what} (again)"))?;
                if first != again {
                    return Err(CliError::new(
                        "passphrase_mismatch",
                        ExitCode::Usage,
                        "the two passphrases differ",
                    ));
                }
                return Ok(passphrase);
            }
        }
    }
}

/// A weak passphrase from the environment is the script's choice: used, with
/// one warning line on stderr (stdout stays the result).
fn warn_if_weak(secret: Secret, passphrase: &Passphrase) {
    if let Err(weak) = mpc_store::check_new_passphrase(passphrase) {
        eprintln!(
            "warning: the new {} passphrase from {} is {weak} It is used anyway.",
            secret.noun(),
            secret.variables()
        );
    }
}

/// Reads a line from the terminal without echo.
fn read_hidden(secret: Secret, what: &str) -> Result<Zeroizing<String>, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            "passphrase_required",
            ExitCode::Usage,
            format!(
                "a {what} is needed and there is no terminal to ask: set {}",
                secret.variables()
            ),
        ));
    }
    Ok(Zeroizing::new(rpassword::prompt_password(format!(
        "{what}: "
    ))?))
}
