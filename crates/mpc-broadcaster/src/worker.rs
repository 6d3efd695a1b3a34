//! One transaction against the node: whether it can go out now (admission),
//! and, once sent, its receipt and confirmations, re-sent after a reorg.

use std::time::{Duration, Instant};

use mpc_api::broadcast::{BroadcastResult, BroadcastStatus, FeeGap, NonceGap, ReceiptInfo};
use mpc_evm::{EvmRpc, RawTx, Receipt, RpcError, B256};

use crate::retry::retry_rpc;

/// How often a sent but unmined transaction is sent again, in case the node
/// dropped it (restart, mempool eviction, reorg).
const RESEND_INTERVAL: Duration = Duration::from_secs(10);

pub struct Tracker {
    pub rpc: EvmRpc,
    pub confirmations: u64,
    pub poll_interval: Duration,
}

/// What admission made of a transaction.
pub enum Admission {
    /// The node has it (sent now, or already known or mined).
    Sent,
    /// It cannot be mined yet (`waiting_for_nonce`, `underpriced`): try again later.
    NotYet(BroadcastResult),
    /// It can never be mined as it is.
    Failed(BroadcastResult),
}

impl Tracker {
    /// Sends the transaction if the node could mine it now. Holds nothing
    /// up: a transaction that must wait is handed back at once.
    pub async fn admit(&self, tx: &RawTx) -> Admission {
        if let Err(reason) = self.check_chain(tx) {
            return Admission::Failed(failed(tx.tx_hash, reason));
        }
        match self.try_admit(tx).await {
            Ok(admission) => admission,
            Err(error) => Admission::Failed(failed(tx.tx_hash, error.to_string())),
        }
    }

    async fn try_admit(&self, tx: &RawTx) -> Result<Admission, RpcError> {
        let next_nonce = retry_rpc("eth_getTransactionCount", || self.rpc.nonce(tx.from)).await?;
        if tx.nonce > next_nonce {
            let mut waiting = BroadcastResult::new(tx.tx_hash, BroadcastStatus::WaitingForNonce);
            waiting.nonce_gap = Some(NonceGap {
                nonce: tx.nonce,
                next_nonce,
            });
            return Ok(Admission::NotYet(waiting));
        }
        let base_fee = retry_rpc("eth_getBlockByNumber", || self.rpc.base_fee()).await?;
        let underpriced = |error: Option<String>| {
            let mut result = BroadcastResult::new(tx.tx_hash, BroadcastStatus::Underpriced);
            result.fee_gap = Some(FeeGap {
                max_fee_per_gas: tx.max_fee_per_gas,
                base_fee_per_gas: base_fee.unwrap_or_default(),
            });
            result.error = error;
            Admission::NotYet(result)
        };
        if base_fee.is_some_and(|base| tx.max_fee_per_gas < base) {
            return Ok(underpriced(None));
        }
        match self.send(tx).await {
            Ok(_) => Ok(Admission::Sent),
            Err(RpcError::Underpriced(message)) => Ok(underpriced(Some(message))),
            Err(error @ RpcError::NonceTooLow(_)) => Ok(Admission::Failed(failed(
                tx.tx_hash,
                format!(
                    "nonce {} of {} is already used by another transaction: {error}",
                    tx.nonce, tx.from
                ),
            ))),
            Err(error) => Err(error),
        }
    }

    /// The final result of a sent transaction: never an error, because every
    /// outcome (including "this can never be mined") is reported to the user.
    pub async fn confirm(&self, tx: &RawTx) -> BroadcastResult {
        match self.until_confirmed(tx).await {
            Ok(receipt) => {
                tracing::info!(
                    block = receipt.block_number,
                    success = receipt.success,
                    "confirmed"
                );
                mined(&receipt)
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

    /// Admission sent it just now; re-sends only when it goes missing.
    async fn until_confirmed(&self, tx: &RawTx) -> Result<Receipt, RpcError> {
        let mut last_sent = Some(Instant::now());
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
                            tracing::info!("re-submitted");
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

fn mined(receipt: &Receipt) -> BroadcastResult {
    let status = if receipt.success {
        BroadcastStatus::Success
    } else {
        BroadcastStatus::Reverted
    };
    let mut result = BroadcastResult::new(receipt.tx_hash, status);
    result.block_number = Some(receipt.block_number);
    result.receipt = Some(ReceiptInfo {
        block_hash: receipt.block_hash,
        from: receipt.from,
        gas_used: receipt.gas_used,
        contract_address: receipt.contract_address,
    });
    result
}

pub fn failed(tx_hash: B256, error: String) -> BroadcastResult {
    let mut result = BroadcastResult::new(tx_hash, BroadcastStatus::Failed);
    result.error = Some(error);
    result
}
