//! `mpc-cosigner policy check|show`: what the co-signer would answer, from
//! the policy file and the durable ledger, without signing or writing.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use mpc_evm::{SignPayload, TxPolicy, TxRequest};
use serde_json::json;

use super::{eth, PolicyEngine, PolicyError};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Would the co-signer sign this for the wallet now? Exit 8 if its policy
    /// refuses (the message names the rule); nothing is signed or counted
    Check {
        #[arg(long)]
        wallet: String,
        #[command(flatten)]
        payload: PayloadArgs,
        /// One JSON object: {"allowed", "rule", "value", "message"}
        #[arg(long)]
        json: bool,
    },
    /// Print the rules in force for a wallet (or the global ones), as JSON
    Show {
        #[arg(long)]
        wallet: Option<String>,
    },
}

/// Exactly one thing to check.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PayloadArgs {
    /// A tx.json file
    #[arg(long)]
    tx: Option<PathBuf>,
    /// An eth_signTypedData_v4 JSON document
    #[arg(long)]
    typed_data: Option<PathBuf>,
    /// A personal message (EIP-191), as text
    #[arg(long)]
    message: Option<String>,
}

impl PayloadArgs {
    fn payload(&self, floor: &TxPolicy) -> anyhow::Result<SignPayload> {
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
        };
        let payload = match (&self.tx, &self.typed_data, &self.message) {
            (Some(path), _, _) => {
                SignPayload::Transaction(TxRequest::from_json(&read(path)?, floor)?)
            }
            (_, Some(path), _) => SignPayload::TypedData(
                serde_json::from_str(&read(path)?).context("the typed data is not JSON")?,
            ),
            (_, _, Some(text)) => SignPayload::PersonalMessage(text.as_bytes().to_vec().into()),
            (None, None, None) => unreachable!("clap requires one"),
        };
        // The co-signer's own checks come first, as when it serves.
        payload.validate(floor)?;
        payload.digest()?;
        Ok(payload)
    }
}

/// Runs a policy command, printing its JSON. A refusal is printed, then
/// returned as the error (the binary exits 8 on it).
pub fn run(command: PolicyCommand, engine: Arc<PolicyEngine>, chain_id: u64) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Show { wallet } => {
            let rules = engine.rules(wallet.as_deref());
            let shown = json!({"file": engine.path(), "wallet": wallet, "rules": rules});
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(())
        }
        PolicyCommand::Check {
            wallet,
            payload,
            json,
        } => {
            let payload = payload.payload(&TxPolicy::new(chain_id))?;
            match engine.evaluate(&wallet, &payload) {
                Ok(effects) => {
                    let native = eth(effects.native_spend);
                    if json {
                        println!(
                            "{}",
                            json!({"allowed": true, "wallet": wallet, "native_spend": native})
                        );
                    } else {
                        println!("allowed: the co-signer would sign (native spend up to {native})");
                    }
                    Ok(())
                }
                Err(PolicyError::Refused(refusal)) => {
                    if json {
                        println!(
                            "{}",
                            json!({"allowed": false, "wallet": wallet, "rule": refusal.rule.as_str(),
                                   "value": refusal.value, "message": refusal.to_string()})
                        );
                    }
                    Err(refusal.into())
                }
                Err(other) => Err(other.into()),
            }
        }
    }
}
