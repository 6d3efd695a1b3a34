//! The `mpc` client: CLI commands and the wallet operations behind them.

pub mod cli;
mod client_share;
pub mod commands;
mod embedded;
mod errors;
mod http;
pub mod output;
mod progress;
mod secrets;
pub mod wallet;

/// The decrypted client share that `wallet::Client` operations take (named
/// here for callers such as the benchmark that keep one loaded).
pub use client_share::ClientShare;
