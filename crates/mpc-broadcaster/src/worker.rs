//! One queued transaction, from raw bytes to a final result: check, send,
//! wait for the receipt and confirmations, re-send after a reorg.

use std::time::{Duration, Instant};

use mpc_api::broadcast::{BroadcastResult, BroadcastStatus};
use mpc_evm::raw::raw_tx_hash;
use mpc_evm::{decode_raw_tx, EvmRpc, RawTx, Receipt, RpcError};

use crate::retry::retry_rpc;

/// How often a sent but unmined transaction is sent again, in case the node
/// dropped it (restart, mempool eviction, reorg).
const RESEND_INTERVAL: Duration = Duration::from_secs(10);

pub struct Tracker {
    pub rpc: EvmRpc,
    pub confirmations: u64,
    pub poll_interval: Duration,
}

impl Tracker {
    /// The final result for one queued message: never an error, because every
    /// outcome (including "this can never be mined") is reported to the user.
    pub async fn process(&self, payload: &[u8]) -> BroadcastResult {
        let tx = match decode_raw_tx(payload) {
            Ok(tx) => tx,
            Err(error) => return failed(raw_tx_hash(payload), error.to_string()),
        };
        let span =
            tracing::info_span!("tx", tx_hash = %tx.tx_hash, from = %tx.from, nonce = tx.nonce);
        let _entered = span.enter();
        if let Err(reason) = self.check_chain(&tx) {
            return failed(tx.tx_hash, reason);
        }
        match self.until_confirmed(&tx).await {
            Ok(receipt) => {
                tracing::info!(
                    block = receipt.block_number,
                    success = receipt.success,
                    "confirmed"
                );
                BroadcastResult {
                    tx_hash: tx.tx_hash,
                    status: if receipt.success {
                        BroadcastStatus::Success
                    } else {
                        BroadcastStatus::Reverted
                    },
                    block_number: Some(receipt.block_number),
                    error: None,
                }
            }
            Err(error) => {
                tracing::warn!(%error, "not sendable");
                failed(tx.tx_hash, error.to_string())
            }
        }
    }

    fn check_chain(&self, tx: &RawTx) -> Result<(), String> {
        let expected = self.rpc.chain_id();
        match tx.chain_id {
            Some(id) if id == expected => Ok(()),
            Some(id) => Err(format!(
                "wrong chain id: the transaction is signed for chain {id}, this broadcaster sends to chain {expected} (MPC_CHAIN_ID)"
            )),
            None => Err(format!(
                "wrong chain id: the transaction has no chain id (pre-EIP-155, replayable on any chain); sign it for chain {expected}"
            )),
        }
    }

    async fn receipt(&self, tx: &RawTx) -> Result<Option<Receipt>, RpcError> {
        retry_rpc("eth_getTransactionReceipt", || self.rpc.receipt(tx.tx_hash)).await
    }

    /// Sends (or re-sends) the transaction. "Nonce too low" is only final if
    /// the transaction itself is not the one that used the nonce.
    async fn send(&self, tx: &RawTx) -> Result<bool, RpcError> {
        match retry_rpc("eth_sendRawTransaction", || self.rpc.send_raw(&tx.bytes)).await {
            Ok(_) => Ok(true),
            Err(RpcError::NonceTooLow(message)) => match self.receipt(tx).await? {
                Some(_) => Ok(false),
                None => Err(RpcError::NonceTooLow(message)),
            },
            Err(error) => Err(error),
        }
    }

    async fn until_confirmed(&self, tx: &RawTx) -> Result<Receipt, RpcError> {
        let mut last_sent: Option<Instant> = None;
        let mut mined_in: Option<Receipt> = None;
        loop {
            match self.receipt(tx).await? {
                Some(receipt) => {
                    if mined_in.is_some_and(|seen| seen.block_hash != receipt.block_hash) {
                        tracing::warn!(
                            block = receipt.block_number,
                            "reorg: now mined in a different block"
                        );
                    }
                    mined_in = Some(receipt);
                    let head = retry_rpc("eth_blockNumber", || self.rpc.block_number()).await?;
                    if head + 1 >= receipt.block_number + self.confirmations {
                        return Ok(receipt);
                    }
                }
                None => {
                    if let Some(lost) = mined_in.take() {
                        tracing::warn!(
                            block = lost.block_number,
                            "reorg: receipt vanished, re-submitting"
                        );
                        last_sent = None;
                    }
                    if last_sent.is_none_or(|at| at.elapsed() >= RESEND_INTERVAL) {
                        if self.send(tx).await? {
                            tracing::info!(resend = last_sent.is_some(), "submitted");
                        }
                        last_sent = Some(Instant::now());
                        continue;
                    }
                }
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }
}

fn failed(tx_hash: mpc_evm::B256, error: String) -> BroadcastResult {
    BroadcastResult {
        tx_hash,
        status: BroadcastStatus::Failed,
        block_number: None,
        error: Some(error),
    }
}
