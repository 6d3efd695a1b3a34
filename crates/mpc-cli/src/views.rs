//! The JSON shapes the CLI prints and the HTTP API returns, made from the
//! library's typed results. One shape per result, shared by both.

use std::path::PathBuf;

use mpc_client::{Broadcast, BroadcastResult, Health, KeygenOutcome, Rotated, Signed};
use mpc_evm::B256;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct KeygenView {
    pub address: String,
    pub public_key: String,
    pub wallet_id: String,
    pub session_id: String,
    pub share: PathBuf,
    pub cosigner_fingerprint: String,
}

impl From<KeygenOutcome> for KeygenView {
    fn from(outcome: KeygenOutcome) -> Self {
        KeygenView {
            address: outcome.address.to_checksum(None),
            public_key: outcome.public_key.to_string(),
            wallet_id: outcome.wallet_id,
            session_id: outcome.session_id,
            share: outcome.share,
            cosigner_fingerprint: outcome.cosigner_fingerprint.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SignView {
    pub r: String,
    pub s: String,
    pub v: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_tx: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// `r ‖ s ‖ v`, for everything but transactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// For an EIP-7702 authorization: its y parity, and the signed
    /// authorization as tx.json's `authorization_list` takes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y_parity: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<serde_json::Value>,
    pub from: String,
    pub path: String,
    pub session_id: String,
}

impl From<&Signed> for SignView {
    fn from(signed: &Signed) -> Self {
        let signature = match &signed.transaction {
            Some(_) => None,
            None => Some(format!("0x{}", hex::encode(signed.to_bytes()))),
        };
        SignView {
            r: B256::from(signed.signature.r()).to_string(),
            s: B256::from(signed.signature.s()).to_string(),
            v: format!("{:#x}", signed.v),
            raw_tx: signed.transaction.as_ref().map(|tx| tx.raw_tx.to_string()),
            tx_hash: signed.transaction.as_ref().map(|tx| tx.tx_hash.to_string()),
            signature,
            y_parity: signed
                .authorization
                .as_ref()
                .map(|_| u8::from(signed.signature.v())),
            authorization: signed
                .authorization
                .as_ref()
                .map(mpc_evm::signed_authorization_json),
            from: signed.from.to_checksum(None),
            path: signed.path.to_string(),
            session_id: signed.session_id.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RotateView {
    pub address: String,
    pub wallet_id: String,
    pub share_version: u32,
    pub session_id: String,
    /// Always true: a backup taken before this rotation can no longer sign.
    pub earlier_backups_stale: bool,
    /// The new backup, when `--backup-out` asked for one.
    pub backup: Option<PathBuf>,
}

impl RotateView {
    pub fn new(rotated: &Rotated, wallet_id: String, backup: Option<PathBuf>) -> Self {
        RotateView {
            address: rotated.address.to_checksum(None),
            wallet_id,
            share_version: rotated.share_version,
            session_id: rotated.session_id.to_string(),
            earlier_backups_stale: true,
            backup,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HealthView {
    pub status: &'static str,
    pub cosigner_version: String,
    pub embedded: bool,
}

impl From<Health> for HealthView {
    fn from(health: Health) -> Self {
        HealthView {
            status: "ok",
            cosigner_version: health.cosigner_version,
            embedded: health.embedded,
        }
    }
}

/// `{tx_hash, status, block_number}` and, where they apply, `error`,
/// `nonce_gap`, `fee_gap` and `receipt`; `duplicate` for a queued one.
#[derive(Debug, Serialize)]
pub struct BroadcastView {
    #[serde(flatten)]
    pub result: BroadcastResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
}

impl From<Broadcast> for BroadcastView {
    fn from(broadcast: Broadcast) -> Self {
        BroadcastView {
            result: broadcast.result,
            duplicate: Some(broadcast.duplicate),
        }
    }
}

impl From<BroadcastResult> for BroadcastView {
    fn from(result: BroadcastResult) -> Self {
        BroadcastView {
            result,
            duplicate: None,
        }
    }
}
