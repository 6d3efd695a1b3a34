//! The co-signer's policy: what it agrees to sign, beyond the built-in
//! floor (the configured chain and the fee cap of [`mpc_evm::TxPolicy`]).
//!
//! - [`file`](mod@file): the policy file (TOML), global rules and per-wallet
//!   overrides, validated with errors that name the line;
//! - [`rules`]: the built-in rules, one [`Policy`];
//! - [`effects`]: what a payload would do (native spend, decoded ERC-20
//!   transfers and approvals, EIP-2612 and Permit2 permits);
//! - [`ledger`]: the durable record of released signatures that the 24 h
//!   limits and the rate limit count;
//! - [`engine`]: the file and the ledger together, reloadable (on SIGHUP),
//!   with an operator's own [`Policy`]s after the built-in rules;
//! - [`command`]: `mpc-cosigner policy check|show`.

pub mod command;
pub mod effects;
pub mod engine;
pub mod file;
pub mod ledger;
pub mod rules;
pub mod shared;

use std::fmt;

pub use mpc_api::PolicyRule;
use mpc_api::RejectionCode;
use mpc_evm::SignPayload;
use mpc_session::{Rejection, Violation};

pub use effects::Effects;
pub use engine::{PolicyEngine, PolicyError};
pub use file::{FileError, PolicyFile};
pub use ledger::History;
pub use rules::Rules;

/// A signature request as a policy sees it.
pub struct Request<'a> {
    /// The wallet asked to sign.
    pub wallet_id: &'a str,
    /// The chain the co-signer serves (the wallet's chain).
    pub chain_id: u64,
    /// What is to be signed, as the co-signer decoded it.
    pub payload: &'a SignPayload,
    /// What signing it would do: spend, transfers, approvals.
    pub effects: &'a Effects,
    /// The wallet's signatures of the last 24 h, from the ledger.
    pub history: &'a History,
}

/// A rule set the co-signer consults before it signs. The built-in rules
/// ([`Rules`]) are one; an operator adds their own with
/// [`PolicyEngine::with_policy`]. Called with the wallet held, so a check
/// and the ledger entry that follows it are not raced by the same wallet.
pub trait Policy: Send + Sync {
    /// `Ok` to sign, or the rule that refuses and why.
    fn check(&self, request: &Request<'_>) -> Result<(), Refusal>;
}

/// A policy's refusal: the rule, the offending value, and a sentence that
/// names both (`1.2 ETH spent in 24 h would exceed 1 ETH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: PolicyRule,
    pub value: String,
    pub detail: String,
}

impl Refusal {
    pub fn new(rule: PolicyRule, value: impl Into<String>, detail: impl Into<String>) -> Refusal {
        Refusal {
            rule,
            value: value.into(),
            detail: detail.into(),
        }
    }

    /// The refusal as the client receives it, inside the session.
    pub fn rejection(&self) -> Rejection {
        Rejection {
            violation: Some(Box::new(Violation {
                rule: self.rule.as_str().to_owned(),
                value: self.value.clone(),
            })),
            ..Rejection::new(RejectionCode::PolicyRefused.as_str(), self.to_string())
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}: {}", self.rule, self.detail)
    }
}

impl std::error::Error for Refusal {}

/// Native amounts as refusals show them: `1.2 ETH`.
pub(crate) fn eth(wei: mpc_evm::U256) -> String {
    let amount = mpc_evm::format_amount(wei, 18).unwrap_or_else(|| wei.to_string());
    format!("{amount} ETH")
}
