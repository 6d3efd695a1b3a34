//! The `mpc` client: CLI commands and the wallet operations behind them.

pub mod cli;
mod client_share;
pub mod commands;
mod embedded;
mod errors;
mod http;
pub mod output;
mod secrets;
pub mod wallet;
