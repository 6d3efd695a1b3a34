//! What the CLI prints. With `--json`, standard output is exactly one JSON
//! object (the result, or `{"error": {"code", "message"}}`); without it, a
//! short human summary. Errors always also go to stderr as one line.

use serde::Serialize;
use serde_json::Value;

/// A failure with a stable machine-readable code and an exit status that
/// scripts can branch on (see README "Exit codes").
#[derive(Debug)]
pub struct CliError {
    pub code: &'static str,
    pub message: String,
    pub exit: ExitCode,
}

/// Process exit codes. Stable: scripts rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Anything not listed below.
    Failure = 1,
    /// Bad flags or arguments (clap uses 2 too).
    Usage = 2,
    /// Invalid input file: tx.json, typed data, raw transaction.
    InvalidInput = 3,
    /// A share or backup could not be decrypted or is not the expected one.
    Share = 4,
    /// Broker or co-signer unreachable, or a session timed out.
    Unreachable = 5,
    /// The wallet is locked after the peer misbehaved.
    Locked = 6,
    /// The chain rejected or failed the transaction, or the RPC is down.
    Chain = 7,
    /// The co-signer's policy refused to sign (the message names the rule).
    Policy = 8,
    /// A backup or share is stale: the wallet was rotated since.
    Stale = 9,
    /// Interrupted (Ctrl-C).
    Interrupted = 130,
}

impl CliError {
    pub fn new(code: &'static str, exit: ExitCode, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            exit,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Prints a command's result: the JSON object, or `human` lines.
pub fn print_result<T: Serialize>(json: bool, result: &T, human: impl FnOnce(&Value) -> String) {
    let value = serde_json::to_value(result).expect("results are plain JSON");
    if json {
        println!("{value}");
    } else {
        println!("{}", human(&value));
    }
}

/// Prints an error as the contract says and returns the exit code to use.
pub fn print_error(json: bool, error: &CliError) -> u8 {
    eprintln!("error: {}", error.message.replace('\n', " "));
    if json {
        println!(
            "{}",
            serde_json::json!({"error": {"code": error.code, "message": error.message}})
        );
    }
    error.exit as u8
}
