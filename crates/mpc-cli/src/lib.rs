//! The `mpc` command: flags, prompts, JSON output and exit codes over the
//! client library (`mpc-client`), plus `mpc serve`'s HTTP transport.

pub mod cli;
pub mod commands;
mod errors;
mod http;
pub mod output;
mod progress;
mod secrets;
pub mod settings;
mod views;
mod wallet_ops;
