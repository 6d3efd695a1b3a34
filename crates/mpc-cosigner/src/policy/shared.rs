//! The fleet's spend ledger (`--store jetstream`): one KV value per wallet in
//! the ledger bucket, read from the stream leader and changed by
//! compare-and-set, so a limit holds across every replica rather than once
//! per replica. The wallet's lease keeps its signatures one at a time; the
//! compare-and-set catches anything that slips past it.
//!
//! Kept small whatever the volume: spend summed per minute for the last day,
//! and the exact times of the last minute's signatures (the rate limit). A
//! minute's spend counts until a whole day after the minute *ends*, so it
//! never leaves the window before its signatures would have.

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_nats::jetstream::kv;
use mpc_evm::{Address, U256};
use serde::{Deserialize, Serialize};

use super::ledger::{millis, Entry, History, MINUTE, WINDOW};
use super::{Effects, Refusal};
use crate::fleet::{leader_entry, Fleet, FleetError, LEDGER_BUCKET};

/// How often an authorization retries after losing a race for the record.
const CAS_ATTEMPTS: usize = 5;

/// One wallet's spend within the windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletSpend {
    /// Spend per minute of the last day: the minute's start (ms) → its sums.
    minutes: BTreeMap<u64, Sums>,
    /// When (ms) each signature of the last minute was authorized.
    recent: Vec<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Sums {
    native: U256,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tokens: BTreeMap<Address, U256>,
}

const MINUTE_MS: u64 = MINUTE.as_millis() as u64;
const WINDOW_MS: u64 = WINDOW.as_millis() as u64;

impl WalletSpend {
    pub fn history(&self, now_ms: u64) -> History {
        let mut history = History::default();
        for (_, sums) in self.minutes.range(Self::day_cutoff(now_ms)..) {
            history.native = history.native.saturating_add(sums.native);
            for (token, amount) in &sums.tokens {
                let sum = history.tokens.entry(*token).or_default();
                *sum = sum.saturating_add(*amount);
            }
        }
        let minute = now_ms.saturating_sub(MINUTE_MS);
        history.last_minute = self.recent.iter().filter(|at| **at >= minute).count();
        history
    }

    pub fn record(&mut self, entry: &Entry) {
        let sums = self
            .minutes
            .entry(entry.at_ms - entry.at_ms % MINUTE_MS)
            .or_default();
        sums.native = sums.native.saturating_add(entry.native);
        for (token, amount) in &entry.tokens {
            let sum = sums.tokens.entry(*token).or_default();
            *sum = sum.saturating_add(*amount);
        }
        self.recent.push(entry.at_ms);
        let (day, minute) = (
            Self::day_cutoff(entry.at_ms),
            entry.at_ms.saturating_sub(MINUTE_MS),
        );
        self.minutes = self.minutes.split_off(&day);
        self.recent.retain(|at| *at >= minute);
    }

    /// The first minute start still inside the day window at `now_ms`.
    fn day_cutoff(now_ms: u64) -> u64 {
        (now_ms + 1).saturating_sub(WINDOW_MS + MINUTE_MS)
    }
}

/// The ledger bucket of the fleet.
pub struct SharedLedger {
    fleet: std::sync::Arc<Fleet>,
}

impl SharedLedger {
    pub fn new(fleet: Fleet) -> SharedLedger {
        SharedLedger {
            fleet: std::sync::Arc::new(fleet),
        }
    }

    /// The wallet's spend as the leader has it, with its revision.
    async fn read(&self, wallet_id: &str) -> Result<(WalletSpend, Option<u64>), FleetError> {
        match leader_entry(&self.fleet.js, LEDGER_BUCKET, wallet_id).await? {
            None => Ok((WalletSpend::default(), None)),
            Some((bytes, revision)) => {
                let spend =
                    serde_json::from_slice(&bytes).map_err(|e| FleetError::CorruptRecord {
                        wallet_id: wallet_id.to_owned(),
                        reason: format!("policy ledger: {e}"),
                    })?;
                Ok((spend, Some(revision)))
            }
        }
    }

    /// Checks the request against the wallet's spend with `check` and, if
    /// it passes, records it before returning (the caller then signs).
    pub async fn authorize(
        &self,
        wallet_id: &str,
        now: SystemTime,
        check: impl Fn(&History) -> Result<Effects, Refusal>,
    ) -> Result<(), SharedLedgerError> {
        let now_ms = millis(now);
        for _ in 0..CAS_ATTEMPTS {
            let (mut spend, revision) = self.read(wallet_id).await?;
            let effects = check(&spend.history(now_ms))?;
            spend.record(&Entry {
                wallet: wallet_id.to_owned(),
                at_ms: now_ms,
                native: effects.native_spend,
                tokens: effects.token_amounts().collect(),
            });
            let value = serde_json::to_vec(&spend).expect("a wallet's spend serializes");
            let bucket = &self.fleet.ledger;
            let written = match revision {
                Some(revision) => bucket
                    .update(wallet_id, value.into(), revision)
                    .await
                    .map_err(|e| {
                        (
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            e.to_string(),
                        )
                    }),
                None => bucket.create(wallet_id, value.into()).await.map_err(|e| {
                    (
                        e.kind() == kv::CreateErrorKind::AlreadyExists,
                        e.to_string(),
                    )
                }),
            };
            match written {
                Ok(_) => return Ok(()),
                // Another replica recorded first: count again with its entry.
                Err((true, _)) => continue,
                Err((false, reason)) => {
                    return Err(FleetError::jetstream("record in the policy ledger")(reason).into())
                }
            }
        }
        Err(FleetError::Conflict {
            wallet_id: wallet_id.to_owned(),
        }
        .into())
    }
}

/// Why the shared ledger did not authorize.
#[derive(Debug, thiserror::Error)]
pub enum SharedLedgerError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Fleet(#[from] FleetError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: u64, wei: u64) -> Entry {
        Entry {
            wallet: "w".into(),
            at_ms,
            native: U256::from(wei),
            tokens: vec![(Address::repeat_byte(1), U256::from(7))],
        }
    }

    #[test]
    fn spend_stays_a_full_day_and_the_rate_counts_the_last_minute() {
        let start = 1_000 * WINDOW_MS + 30_000;
        let mut spend = WalletSpend::default();
        spend.record(&entry(start, 5));
        spend.record(&entry(start + 10_000, 6));
        let history = spend.history(start + 20_000);
        assert_eq!(history.native, U256::from(11));
        assert_eq!(history.token(&Address::repeat_byte(1)), U256::from(14));
        assert_eq!(history.last_minute, 2);
        assert_eq!(spend.history(start + 75_000).last_minute, 0);
        // Never early: exactly a day after each signature, both still count.
        assert_eq!(
            spend.history(start + 10_000 + WINDOW_MS).native,
            U256::from(11)
        );
        // Gone once a day has passed after the end of their minute.
        assert_eq!(
            spend.history(start + WINDOW_MS + 2 * MINUTE_MS).native,
            U256::ZERO
        );
        // Recording prunes what left the windows.
        spend.record(&entry(start + 2 * WINDOW_MS, 1));
        assert_eq!(spend.minutes.len(), 1);
        assert_eq!(spend.recent.len(), 1);
        let json = serde_json::to_string(&spend).unwrap();
        assert_eq!(serde_json::from_str::<WalletSpend>(&json).unwrap(), spend);
    }
}
